//! Where webhooks may be sent. Private and loopback targets are allowed by default (self-hosted
//! clinics deliver inside their own network); with `WEBHOOK_BLOCK_PRIVATE_NETWORKS=true` they are
//! refused when an endpoint is registered (IP literals and `localhost` names) and again at every
//! delivery, after DNS resolution, by the HTTP client's own resolver (redirects are never
//! followed, so a public receiver cannot bounce a delivery inward).

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const MAX_URL_LEN: usize = 2000;

/// Whether `ip` is loopback, private, link-local, or otherwise not a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
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
    if block_private {
        let private = match host {
            url::Host::Domain(d) => is_localhost_name(d),
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
        };
        if private {
            return Err("must not point to a private or loopback address on this service".into());
        }
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

/// The HTTP client's resolver: the system's, minus private addresses when they are blocked.
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
                .filter(|a| !(block && is_private(a.ip())))
                .collect();
            if allowed.is_empty() && !found.is_empty() {
                return Err(format!(
                    "{host} resolves only to private or loopback addresses, which WEBHOOK_BLOCK_PRIVATE_NETWORKS refuses"
                )
                .into());
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
