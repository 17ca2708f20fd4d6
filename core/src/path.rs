//! ZooKeeper's path rules (`PathUtils.validatePath`).
