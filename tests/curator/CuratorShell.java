// A line-oriented shell over Apache Curator's recipes, driven by
// tests/tests/recipe_curator.rs to check that Corral's Rust recipes and
// Curator's read each other's znodes. Usage:
//
//   java CuratorShell <connect>
//
// Prints "ready" once connected, then answers each command on stdin with
// one line on stdout ("ok ...", a value, or "error <message>"):
//
//   latch-start <path> <id>      LeaderLatch.start()
//   latch-await <ms>             await(ms) -> "true" / "false"
//   latch-leader                 getLeader().getId() of the latch
//   latch-participants           ids of getParticipants(), comma-separated
//   latch-close                  close()
//   selector-leader <path>       LeaderSelector.getLeader().getId()
//   write-lock <path> <ms>       InterProcessReadWriteLock writeLock().acquire(ms)
//   read-lock <path> <ms>        readLock().acquire(ms)
//   rw-release                   release every rw lock held
//   sem-acquire <path> <n> <ms>  InterProcessSemaphoreV2(n).acquire(ms) -> "true"/"false"
//   sem-release                  return every lease held
//   count-get <path>             SharedCount value (seed 0)
//   count-add <path> <delta>     trySetCount loop
//   queue-put <path> <item>      DistributedQueue.put (identity serializer)
//   queue-take <path> <n> <ms>   consume n items, comma-separated, in order
//   barrier-set <path> / barrier-remove <path>
//   dbarrier-enter <path> <n> <ms> / dbarrier-leave <ms>   DistributedDoubleBarrier
//   member-join <path> <id> <payload>   GroupMember.start()
//   members <count> <ms>         getCurrentMembers() once it has <count>: id=payload,...
//   member-leave                 GroupMember.close()
//   quit

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import java.util.Map;
import java.util.TreeMap;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;

public class CuratorShell {
    static final QueueSerializer<byte[]> BYTES = new QueueSerializer<byte[]>() {
        public byte[] serialize(byte[] item) { return item; }
        public byte[] deserialize(byte[] bytes) { return bytes; }
    };

    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(args[0])
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 5))
                .build();
        client.start();
        if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
            System.out.println("error not connected");
            System.exit(1);
        }
        System.out.println("ready");
        System.out.flush();

        LeaderLatch latch = null;
        DistributedDoubleBarrier doubleBarrier = null;
        GroupMember member = null;
        List<InterProcessMutex> rwHeld = new ArrayList<>();
        List<Lease> leases = new ArrayList<>();
        List<InterProcessSemaphoreV2> semaphores = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] a = line.trim().split(" ");
            String reply;
            try {
                switch (a[0]) {
                    case "latch-start":
                        latch = new LeaderLatch(client, a[1], a[2]);
                        latch.start();
                        reply = "ok";
                        break;
                    case "latch-await":
                        reply = Boolean.toString(latch.await(Long.parseLong(a[1]), TimeUnit.MILLISECONDS));
                        break;
                    case "latch-leader":
                        reply = latch.getLeader().getId();
                        break;
                    case "latch-participants":
                        reply = latch.getParticipants().stream().map(p -> p.getId()).collect(Collectors.joining(","));
                        break;
                    case "latch-close":
                        latch.close();
                        reply = "ok";
                        break;
                    case "selector-leader": {
                        LeaderSelector selector = new LeaderSelector(client, a[1], new LeaderSelectorListenerAdapter() {
                            public void takeLeadership(CuratorFramework c) {}
                        });
                        // Never started: it only reads the participants.
                        reply = selector.getLeader().getId();
                        break;
                    }
                    case "write-lock":
                    case "read-lock": {
                        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(client, a[1]);
                        InterProcessMutex m = a[0].equals("write-lock") ? rw.writeLock() : rw.readLock();
                        boolean got = m.acquire(Long.parseLong(a[2]), TimeUnit.MILLISECONDS);
                        if (got) rwHeld.add(m);
                        reply = Boolean.toString(got);
                        break;
                    }
                    case "rw-release":
                        for (InterProcessMutex m : rwHeld) m.release();
                        rwHeld.clear();
                        reply = "ok";
                        break;
                    case "sem-acquire": {
                        InterProcessSemaphoreV2 s = new InterProcessSemaphoreV2(client, a[1], Integer.parseInt(a[2]));
                        semaphores.add(s);
                        Lease lease = s.acquire(Long.parseLong(a[3]), TimeUnit.MILLISECONDS);
                        if (lease != null) leases.add(lease);
                        reply = Boolean.toString(lease != null);
                        break;
                    }
                    case "sem-release":
                        for (Lease l : leases) l.close();
                        leases.clear();
                        reply = "ok";
                        break;
                    case "count-get": {
                        SharedCount count = new SharedCount(client, a[1], 0);
                        count.start();
                        reply = Integer.toString(count.getCount());
                        count.close();
                        break;
                    }
                    case "count-add": {
                        SharedCount count = new SharedCount(client, a[1], 0);
                        count.start();
                        int delta = Integer.parseInt(a[2]);
                        while (true) {
                            VersionedValue<Integer> v = count.getVersionedValue();
                            if (count.trySetCount(v, v.getValue() + delta)) {
                                reply = Integer.toString(v.getValue() + delta);
                                break;
                            }
                        }
                        count.close();
                        break;
                    }
                    case "queue-put": {
                        DistributedQueue<byte[]> q = QueueBuilder.builder(client, null, BYTES, a[1]).buildQueue();
                        q.start();
                        q.put(a[2].getBytes(StandardCharsets.UTF_8));
                        q.close();
                        reply = "ok";
                        break;
                    }
                    case "queue-take": {
                        LinkedBlockingQueue<String> got = new LinkedBlockingQueue<>();
                        QueueConsumer<byte[]> consumer = new QueueConsumer<byte[]>() {
                            public void consumeMessage(byte[] message) {
                                got.add(new String(message, StandardCharsets.UTF_8));
                            }
                            public void stateChanged(CuratorFramework c, ConnectionState s) {}
                        };
                        DistributedQueue<byte[]> q = QueueBuilder.builder(client, consumer, BYTES, a[1]).buildQueue();
                        q.start();
                        int n = Integer.parseInt(a[2]);
                        long deadline = System.currentTimeMillis() + Long.parseLong(a[3]);
                        List<String> items = new ArrayList<>();
                        while (items.size() < n && System.currentTimeMillis() < deadline) {
                            String item = got.poll(100, TimeUnit.MILLISECONDS);
                            if (item != null) items.add(item);
                        }
                        q.close();
                        reply = String.join(",", items);
                        break;
                    }
                    case "barrier-set":
                        new DistributedBarrier(client, a[1]).setBarrier();
                        reply = "ok";
                        break;
                    case "barrier-remove":
                        new DistributedBarrier(client, a[1]).removeBarrier();
                        reply = "ok";
                        break;
                    case "dbarrier-enter":
                        doubleBarrier = new DistributedDoubleBarrier(client, a[1], Integer.parseInt(a[2]));
                        reply = Boolean.toString(doubleBarrier.enter(Long.parseLong(a[3]), TimeUnit.MILLISECONDS));
                        break;
                    case "dbarrier-leave":
                        reply = Boolean.toString(doubleBarrier.leave(Long.parseLong(a[1]), TimeUnit.MILLISECONDS));
                        break;
                    case "member-join":
                        member = new GroupMember(client, a[1], a[2], a[3].getBytes(StandardCharsets.UTF_8));
                        member.start();
                        reply = "ok";
                        break;
                    case "members": {
                        int want = Integer.parseInt(a[1]);
                        long deadline = System.currentTimeMillis() + Long.parseLong(a[2]);
                        Map<String, byte[]> current = member.getCurrentMembers();
                        while (current.size() != want && System.currentTimeMillis() < deadline) {
                            Thread.sleep(50);
                            current = member.getCurrentMembers();
                        }
                        TreeMap<String, String> sorted = new TreeMap<>();
                        for (Map.Entry<String, byte[]> e : current.entrySet()) {
                            sorted.put(e.getKey(), new String(e.getValue(), StandardCharsets.UTF_8));
                        }
                        reply = sorted.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining(","));
                        break;
                    }
                    case "member-leave":
                        member.close();
                        reply = "ok";
                        break;
                    case "quit":
                        client.close();
                        System.out.println("bye");
                        System.exit(0);
                        return;
                    default:
                        reply = "error unknown command " + a[0];
                }
            } catch (Exception e) {
                reply = "error " + e;
            }
            System.out.println(reply);
            System.out.flush();
        }
        client.close();
    }
}
