//! The address `sam local`'s containers reach this machine at: the default bridge's gateway, where the
//! emulator listens for them.
//!
//! On an engine's first start (Debian's 20.10 was seen doing it) `docker network inspect bridge` can
//! answer before the bridge has a gateway in its IPAM configuration: an empty string, which once bound
//! the emulator to nothing and surfaced three steps later as a DNS error inside a container. So the
//! lookup asks two sources, the bridge's IPAM configuration and then the `docker0` interface itself
//! (the engine gives it the gateway's address), waits a bounded time for either to answer, and fails
//! naming what each one said.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};

/// What each source said, when neither gave an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no address for the containers to reach this machine at: `docker network inspect bridge` gave \
     {bridge} for the bridge's gateway, and `ip -j -4 addr show dev docker0` gave {docker0} (is the \
     Docker engine running, with its default bridge?)"
)]
pub struct NoHostAddress {
    /// What the bridge's IPAM configuration held, described.
    pub bridge: String,
    /// What the `docker0` interface held, described.
    pub docker0: String,
}

/// The gateway of the first IPv4 subnet in `docker network inspect bridge -f '{{json .IPAM.Config}}'`'s
/// answer (a JSON list of `{"Subnet", "Gateway"}`); `None` for an empty answer, an empty list or a
/// subnet without a gateway.
pub fn bridge_gateway(ipam_config_json: &str) -> Option<Ipv4Addr> {
    let configs: Vec<serde_json::Value> = serde_json::from_str(ipam_config_json.trim()).ok()?;
    configs.iter().find_map(|config| config["Gateway"].as_str()?.parse().ok())
}

/// The first IPv4 address in `ip -j -4 addr show dev docker0`'s answer; `None` when the interface is
/// missing or has no address yet.
pub fn interface_address(ip_json: &str) -> Option<Ipv4Addr> {
    let interfaces: Vec<serde_json::Value> = serde_json::from_str(ip_json.trim()).ok()?;
    interfaces.iter().flat_map(|interface| interface["addr_info"].as_array().into_iter().flatten()).find_map(
        |address| (address["family"] == "inet").then(|| address["local"].as_str()?.parse().ok()).flatten(),
    )
}

/// The host address from the two sources' answers (`None` where a command could not run): the bridge's
/// gateway, else `docker0`'s address.
pub fn host_address(bridge: Option<&str>, docker0: Option<&str>) -> Result<Ipv4Addr, NoHostAddress> {
    bridge.and_then(bridge_gateway).or_else(|| docker0.and_then(interface_address)).ok_or_else(|| {
        NoHostAddress {
            bridge: described(bridge, "a gateway"),
            docker0: described(docker0, "an IPv4 address"),
        }
    })
}

fn described(answer: Option<&str>, wanted: &str) -> String {
    match answer.map(str::trim) {
        None => "nothing (the command could not run)".into(),
        Some("") => "an empty answer".into(),
        Some(text) => format!("no {} in {text:?}", wanted.trim_start_matches("a ").trim_start_matches("an ")),
    }
}

/// Asks both sources until one gives an address or `limit` passes: on an engine's first start the
/// bridge is configured a moment after `docker info` first answers.
pub fn find(limit: Duration) -> Result<Ipv4Addr, NoHostAddress> {
    let started = Instant::now();
    loop {
        let bridge = output("docker", &["network", "inspect", "bridge", "-f", "{{json .IPAM.Config}}"]);
        let docker0 = output("ip", &["-j", "-4", "addr", "show", "dev", "docker0"]);
        match host_address(bridge.as_deref(), docker0.as_deref()) {
            Ok(address) => return Ok(address),
            Err(missing) if started.elapsed() >= limit => return Err(missing),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// A command's standard output, or `None` when it could not run or failed.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER0: &str = r#"[{"ifindex":3,"ifname":"docker0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],
        "mtu":1500,"qdisc":"noqueue","operstate":"DOWN","group":"default","txqlen":1000,
        "addr_info":[{"family":"inet","local":"172.17.0.1","prefixlen":16,"broadcast":"172.17.255.255",
        "scope":"global","label":"docker0","valid_life_time":4294967295,"preferred_life_time":4294967295}]}]"#;

    #[test]
    fn the_bridges_gateway_is_the_address_when_it_has_one() {
        let ipam = r#"[{"Subnet":"172.18.0.0/16","Gateway":"172.18.0.1"}]"#;
        assert_eq!(host_address(Some(ipam), Some(DOCKER0)), Ok(Ipv4Addr::new(172, 18, 0, 1)));
    }

    #[test]
    fn an_empty_or_gatewayless_bridge_falls_back_to_docker0() {
        // What a first start of Debian's engine 20.10 answered, and the shapes around it.
        for ipam in ["", "\n", "null", "[]", r#"[{"Subnet":"172.17.0.0/16"}]"#, r#"[{"Gateway":""}]"#] {
            assert_eq!(host_address(Some(ipam), Some(DOCKER0)), Ok(Ipv4Addr::new(172, 17, 0, 1)), "{ipam:?}");
        }
        assert_eq!(host_address(None, Some(DOCKER0)), Ok(Ipv4Addr::new(172, 17, 0, 1)));
    }

    #[test]
    fn an_ipv6_gateway_or_address_is_passed_over() {
        let ipam = r#"[{"Subnet":"fd00::/64","Gateway":"fd00::1"},{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]"#;
        assert_eq!(bridge_gateway(ipam), Some(Ipv4Addr::new(172, 17, 0, 1)));
        let v6_only = r#"[{"ifname":"docker0","addr_info":[{"family":"inet6","local":"fe80::1"}]}]"#;
        assert_eq!(interface_address(v6_only), None);
    }

    #[test]
    fn when_neither_source_has_an_address_the_error_says_what_each_gave() {
        let error = host_address(Some("\n"), Some("[]")).unwrap_err();
        assert_eq!(error.bridge, "an empty answer");
        assert_eq!(error.docker0, r#"no IPv4 address in "[]""#);
        let text = error.to_string();
        assert!(text.contains("docker network inspect bridge") && text.contains("docker0"), "{text}");
        let error = host_address(Some(r#"[{"Subnet":"172.17.0.0/16"}]"#), None).unwrap_err();
        assert_eq!(error.bridge, r#"no gateway in "[{\"Subnet\":\"172.17.0.0/16\"}]""#);
        assert_eq!(error.docker0, "nothing (the command could not run)");
    }
}
