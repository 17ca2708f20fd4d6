// Apache Curator's InterProcessMutex in the same lock as Corral's Rust
// Mutex (tests/tests/recipe_curator.rs). Usage:
//
//   java MutexInterop <connect> <lockPath> <counterPath> <markerFile> <rounds> <threads>
//
// Each of <threads> threads has its own CuratorFramework (its own session)
// whose default node data is "java-<n>", so the Rust side can tell Curator's
// lock nodes apart. Once every session is connected the program prints
// "connected"; then each thread takes the lock <rounds> times and, inside,
// appends "enter <id>" and "exit <id>" to <markerFile> around a versioned
// read-modify-write of <counterPath> (which fails with BadVersion if anyone
// else wrote in between). It prints "done" and exits 0, or prints the
// failure and exits 1.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.data.Stat;

public class MutexInterop {
    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String lockPath = args[1];
        String counterPath = args[2];
        Path markers = Paths.get(args[3]);
        int rounds = Integer.parseInt(args[4]);
        int threads = Integer.parseInt(args[5]);

        CountDownLatch connected = new CountDownLatch(threads);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String id = "java-" + t;
            Thread worker = new Thread(() -> {
                CuratorFramework client = CuratorFrameworkFactory.builder()
                        .connectString(connect)
                        .sessionTimeoutMs(10_000)
                        .connectionTimeoutMs(10_000)
                        .retryPolicy(new ExponentialBackoffRetry(100, 5))
                        .defaultData(id.getBytes(StandardCharsets.UTF_8))
                        .build();
                try {
                    client.start();
                    if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
                        throw new IllegalStateException(id + ": not connected");
                    }
                    connected.countDown();
                    InterProcessMutex mutex = new InterProcessMutex(client, lockPath);
                    for (int i = 0; i < rounds; i++) {
                        if (!mutex.acquire(60, TimeUnit.SECONDS)) {
                            throw new IllegalStateException(id + ": lock not acquired in 60 s");
                        }
                        try {
                            append(markers, "enter " + id);
                            Stat stat = new Stat();
                            byte[] data = client.getData().storingStatIn(stat).forPath(counterPath);
                            long n = Long.parseLong(new String(data, StandardCharsets.UTF_8));
                            Thread.yield();
                            client.setData()
                                    .withVersion(stat.getVersion())
                                    .forPath(counterPath, Long.toString(n + 1).getBytes(StandardCharsets.UTF_8));
                            append(markers, "exit " + id);
                        } finally {
                            mutex.release();
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    connected.countDown();
                } finally {
                    client.close();
                }
            }, id);
            workers.add(worker);
            worker.start();
        }
        connected.await();
        System.out.println("connected");
        System.out.flush();
        for (Thread worker : workers) {
            worker.join();
        }
        if (failure.get() != null) {
            failure.get().printStackTrace(System.out);
            System.out.println("failed");
            System.exit(1);
        }
        System.out.println("done");
        System.exit(0);
    }

    private static void append(Path file, String line) throws Exception {
        // One small O_APPEND write per marker: lines from several
        // processes never tear.
        Files.write(file, (line + "\n").getBytes(StandardCharsets.UTF_8),
                StandardOpenOption.APPEND, StandardOpenOption.CREATE);
    }
}
