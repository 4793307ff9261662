//! JSON's input pool takes the host's effective configuration when the host hands it over
//! before first use, and keeps it after (its own binary: the pool is process-wide).

use ultra_alloc::{Config, Value};

#[test]
fn the_pool_takes_the_configuration_given_before_first_use() {
    let pool_max = ultra_alloc::config::variable("ULTRA_POOL_MAX").expect("a row");
    let config = Config::resolve(|_| Ok(None), &[(pool_max, Value::Int(3))]).expect("valid");
    let pools = ultra_alloc::pools_total().pools;
    assert!(ultra_core::json::configure_pool(&config));
    // Configuring creates nothing: the pool still appears at first use only.
    assert_eq!(ultra_alloc::pools_total().pools, pools);
    assert_eq!(ultra_core::json::pool().config().max_idle, 3);
    assert_eq!(ultra_alloc::pools_total().pools, pools + 1);
    // Once in use it stays as it is.
    assert!(ultra_core::json::validate(b"[1,2,3]").is_ok());
    assert!(!ultra_core::json::configure_pool(&Config::default()));
    assert_eq!(ultra_core::json::pool().config().max_idle, 3);
}
