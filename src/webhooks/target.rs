//! Where webhooks may be sent.
//!
//! Never, whatever the settings: link-local addresses (where clouds serve instance metadata and
//! credentials, `169.254.169.254` and `fd00:ec2::254`), unspecified addresses (`0.0.0.0` and
//! `::` reach the service's own host), broadcast and multicast — in every spelling an address
//! can take (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`).
//! Private and loopback targets are allowed by default (self-hosted clinics deliver inside their
//! own network); `WEBHOOK_BLOCK_PRIVATE_NETWORKS=true` refuses those too. Both rules are checked
//! when an endpoint is registered or changed (IP literals and `localhost` names) and again at
//! every delivery, after DNS resolution, by the HTTP client's own resolver (redirects are never
//! followed, so a public receiver cannot bounce a delivery inward).

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAX_URL_LEN: usize = 2000;

/// Why an address may not receive deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Link-local, unspecified, broadcast or multicast: never a webhook target.
    Never,
    /// Loopback, private or reserved: refused when `WEBHOOK_BLOCK_PRIVATE_NETWORKS` is on.
    Private,
}

impl Refusal {
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::Never => {
                "a link-local, unspecified, broadcast or multicast address, which is never a webhook target"
            }
            Refusal::Private => "a private or loopback address, which WEBHOOK_BLOCK_PRIVATE_NETWORKS refuses",
        }
    }
}

/// Whether deliveries to `ip` are refused, and why.
pub fn refusal(ip: IpAddr, block_private: bool) -> Option<Refusal> {
    let ip = canonical(ip);
    if is_never(ip) {
        Some(Refusal::Never)
    } else if block_private && is_private(ip) {
        Some(Refusal::Private)
    } else {
        None
    }
}

/// The IPv4 address an IPv6 address spells, if it embeds one (mapped, compatible, NAT64).
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    // 64:ff9b::/96, the NAT64 well-known prefix, carries an IPv4 address in its last 32 bits.
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0);
    // ::a.b.c.d (IPv4-compatible, deprecated) except :: and ::1, which are IPv6's own.
    let compatible = s[..6].iter().all(|x| *x == 0) && (s[6] != 0 || s[7] > 1);
    if nat64 || compatible {
        let [.., a, b] = s;
        return IpAddr::V4(Ipv4Addr::from((u32::from(a) << 16) | u32::from(b)));
    }
    ip
}

fn is_never(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            const EC2_METADATA: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            v6.is_unspecified() || v6.is_multicast() || v6.is_unicast_link_local() || v6 == EC2_METADATA
        }
    }
}

/// Whether `ip` is loopback, private, or otherwise not a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10: carrier-grade NAT, shared address space
        || (a == 100 && (64..128).contains(&b))
        // 198.18.0.0/15: benchmarking
        || (a == 198 && (b == 18 || b == 19))
        // 240.0.0.0/4: reserved
        || a >= 240
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        // 2001:db8::/32: documentation
        || (ip.segments()[0] == 0x2001 && ip.segments()[1] == 0xdb8)
}

fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// A webhook URL as registered: absolute `http` or `https`, with a host, without credentials.
pub fn parse_url(raw: &str, block_private: bool) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|e| format!("must be an absolute http or https URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; verify the signature instead".into());
    }
    let Some(host) = url.host() else {
        return Err("must name a host".into());
    };
    let refused = match host {
        url::Host::Domain(d) => (block_private && is_localhost_name(d)).then_some(Refusal::Private),
        url::Host::Ipv4(ip) => refusal(IpAddr::V4(ip), block_private),
        url::Host::Ipv6(ip) => refusal(IpAddr::V6(ip), block_private),
    };
    if let Some(r) = refused {
        return Err(format!("must not point to {}", r.describe()));
    }
    Ok(url)
}

/// The literal IP address of a URL's host, if it is one (the resolver never sees those).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Domain(_) => None,
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
    }
}

/// The HTTP client's resolver: the system's, minus the addresses deliveries may not reach.
pub struct GuardedResolver {
    pub block_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let block = self.block_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| refusal(a.ip(), block).is_none())
                .collect();
            if allowed.is_empty()
                && let Some(r) = found.first().and_then(|a| refusal(a.ip(), block))
            {
                return Err(format!("{host} resolves only to refused addresses, such as {}", r.describe()).into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn private_and_special_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(is_private(ip(private)), "{private}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_private(ip(public)), "{public}");
        }
    }

    #[test]
    fn never_a_target_whatever_the_setting() {
        for never in [
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert_eq!(refusal(ip(never), false), Some(Refusal::Never), "{never}");
            assert_eq!(refusal(ip(never), true), Some(Refusal::Never), "{never}");
        }
        for private in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
        ] {
            assert_eq!(refusal(ip(private), false), None, "{private}");
            assert_eq!(refusal(ip(private), true), Some(Refusal::Private), "{private}");
        }
        for public in ["93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "fec0::1"] {
            assert_eq!(refusal(ip(public), true), None, "{public}");
        }
        assert!(parse_url("http://169.254.169.254/latest/meta-data/", false).is_err());
        assert!(parse_url("http://[fd00:ec2::254]/", false).is_err());
        assert!(parse_url("http://[::ffff:a9fe:a9fe]/", false).is_err());
        assert!(parse_url("http://0.0.0.0:8080/", false).is_err());
        assert!(parse_url("http://[ff02::1]/", false).is_err());
    }

    #[test]
    fn urls_as_registered() {
        assert!(parse_url("https://hooks.example.com/rehabit?x=1", true).is_ok());
        assert!(parse_url("http://127.0.0.1:9000/hook", false).is_ok());
        assert!(parse_url("http://127.0.0.1:9000/hook", true).is_err());
        assert!(parse_url("http://[::1]/hook", true).is_err());
        assert!(parse_url("http://LOCALHOST./hook", true).is_err());
        assert!(parse_url("http://api.localhost/hook", true).is_err());
        assert!(parse_url("ftp://example.com/", false).is_err());
        assert!(parse_url("https://user:pw@example.com/", false).is_err());
        assert!(parse_url("/relative", false).is_err());
    }
}
