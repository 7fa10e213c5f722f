//! Who may use the dashboard's controls.
//!
//! - Reading is open to whoever reaches the address.
//! - Controls are offered only with `allow_control`, and off loopback only with a token.
//! - On loopback no token is needed; the `Host` header must then name a loopback address (so
//!   that a web page whose domain was rebound to 127.0.0.1 cannot use the controls).
//! - Off loopback the request must carry the token, as `Authorization: Bearer <token>` or
//!   `?token=<token>`. Both sides are hashed (SHA-256) and the digests compared in constant
//!   time, so neither the token nor its length leaks through timing.
//! - A browser's cross-site request (an `Origin` that is not the `Host`) is refused.
//!
//! A reverse proxy on the same machine makes remote requests look local: bind to loopback
//! behind a proxy only together with a token check in the proxy.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::state::ControlAccess;

/// Why a control request was refused.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Denied {
    /// The controls are not offered at all (read-only dashboard); why.
    NotOffered(&'static str),
    /// No token was presented, or a wrong one.
    BadToken,
    /// A browser request from another site, or a Host that is not loopback on a loopback
    /// server.
    ForeignRequest(&'static str),
}

impl Denied {
    /// The HTTP status for the refusal.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotOffered(_) | Self::ForeignRequest(_) => StatusCode::FORBIDDEN,
            Self::BadToken => StatusCode::UNAUTHORIZED,
        }
    }

    /// The refusal, for people.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::NotOffered(why) => format!("controls are not offered: {why}"),
            Self::BadToken => {
                "a valid token is needed: send `Authorization: Bearer <token>`".to_owned()
            }
            Self::ForeignRequest(why) => format!("request refused: {why}"),
        }
    }
}

/// The access policy of one server.
#[derive(Clone, Debug)]
pub(crate) struct Access {
    loopback: bool,
    token_digest: Option<[u8; 32]>,
    allow_control: bool,
    authorize: bool,
    enable: bool,
}

impl Access {
    /// The policy for a server bound to `local_addr`, offering the charger's `authorize` and
    /// `enable` controls or not.
    pub(crate) fn new(
        local_addr: SocketAddr,
        token: Option<String>,
        allow_control: bool,
        authorize: bool,
        enable: bool,
    ) -> Self {
        Self {
            loopback: local_addr.ip().is_loopback(),
            token_digest: token.map(|t| digest(t.as_bytes())),
            allow_control,
            authorize,
            enable,
        }
    }

    /// Why controls are not offered, if they are not.
    fn not_offered(&self) -> Option<&'static str> {
        if !self.allow_control {
            Some("[web] allow_control is false")
        } else if !self.loopback && self.token_digest.is_none() {
            Some(
                "the dashboard listens beyond loopback and no token is set ([web] token or --web-token)",
            )
        } else {
            None
        }
    }

    /// A warning for the log at start, if the configuration is surprising.
    pub(crate) fn warning(&self) -> Option<String> {
        (self.allow_control && !self.loopback && self.token_digest.is_none()).then(|| {
            "listening beyond loopback without a token: the controls are off (set [web] token \
             or --web-token to use them)"
                .to_owned()
        })
    }

    /// The controls offered, as shown to clients.
    pub(crate) fn offered(&self) -> ControlAccess {
        let reason = self.not_offered();
        let on = reason.is_none();
        ControlAccess {
            stop: on,
            authorize: on && self.authorize,
            enable: on && self.enable,
            token_required: on && !self.loopback,
            disabled_reason: reason.map(str::to_owned),
            authorized: None,
            enabled: None,
        }
    }

    /// Decides on one control request from its headers and query string.
    pub(crate) fn check(&self, headers: &HeaderMap, query: Option<&str>) -> Result<(), Denied> {
        if let Some(why) = self.not_offered() {
            return Err(Denied::NotOffered(why));
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            if !origin_host.eq_ignore_ascii_case(host) {
                return Err(Denied::ForeignRequest("the Origin is another site"));
            }
        }
        if self.loopback {
            return if is_loopback_host(host) {
                Ok(())
            } else {
                Err(Denied::ForeignRequest("the Host is not a loopback address"))
            };
        }
        let Some(expected) = &self.token_digest else {
            return Err(Denied::NotOffered("no token is set"));
        };
        let presented = bearer(headers).or_else(|| query.and_then(query_token));
        let Some(presented) = presented else {
            return Err(Denied::BadToken);
        };
        if bool::from(digest(presented.as_bytes()).ct_eq(expected)) {
            Ok(())
        } else {
            Err(Denied::BadToken)
        }
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The value of `token=` in a query string, percent-decoded.
fn query_token(query: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))?;
    percent_decode(raw)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a Host header (`name[:port]`) names a loopback address.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(inside, _)| inside)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn remote(token: Option<&str>) -> Access {
        Access::new(
            "0.0.0.0:8080".parse().unwrap(),
            token.map(str::to_owned),
            true,
            true,
            true,
        )
    }

    #[test]
    fn loopback_needs_no_token_but_a_loopback_host() {
        let access = Access::new("127.0.0.1:8080".parse().unwrap(), None, true, false, false);
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert_eq!(
                access.check(&headers(&[(header::HOST, host)]), None),
                Ok(()),
                "{host}"
            );
        }
        assert!(matches!(
            access.check(&headers(&[(header::HOST, "evil.example:8080")]), None),
            Err(Denied::ForeignRequest(_))
        ));
        let offered = access.offered();
        assert!(offered.stop && !offered.authorize && !offered.token_required);
    }

    #[test]
    fn off_loopback_the_token_is_required_and_compared() {
        let access = remote(Some("s3cret"));
        let host = (header::HOST, "192.168.1.20:8080");
        assert_eq!(
            access.check(&headers(std::slice::from_ref(&host)), None),
            Err(Denied::BadToken)
        );
        let wrong = (header::AUTHORIZATION, "Bearer s3cre");
        assert_eq!(
            access.check(&headers(&[host.clone(), wrong]), None),
            Err(Denied::BadToken)
        );
        let right = (header::AUTHORIZATION, "Bearer s3cret");
        assert_eq!(access.check(&headers(&[host.clone(), right]), None), Ok(()));
        assert_eq!(
            access.check(
                &headers(std::slice::from_ref(&host)),
                Some("a=1&token=s3cret")
            ),
            Ok(())
        );
        assert_eq!(
            access.check(&headers(std::slice::from_ref(&host)), Some("token=s3cret2")),
            Err(Denied::BadToken)
        );
        assert!(access.offered().token_required);
    }

    #[test]
    fn off_loopback_without_a_token_the_controls_are_off() {
        let access = remote(None);
        let offered = access.offered();
        assert!(!offered.stop && !offered.enable);
        assert!(offered.disabled_reason.is_some());
        assert!(access.warning().is_some());
        assert!(matches!(
            access.check(&headers(&[(header::HOST, "10.0.0.1:8080")]), None),
            Err(Denied::NotOffered(_))
        ));
    }

    #[test]
    fn allow_control_false_makes_it_read_only_even_on_loopback() {
        let access = Access::new("127.0.0.1:1".parse().unwrap(), None, false, true, true);
        assert!(matches!(
            access.check(&headers(&[(header::HOST, "127.0.0.1:1")]), None),
            Err(Denied::NotOffered(_))
        ));
        assert!(!access.offered().stop);
    }

    #[test]
    fn cross_site_browser_requests_are_refused() {
        let access = remote(Some("t"));
        let h = headers(&[
            (header::HOST, "192.168.1.20:8080"),
            (header::ORIGIN, "http://evil.example"),
            (header::AUTHORIZATION, "Bearer t"),
        ]);
        assert!(matches!(
            access.check(&h, None),
            Err(Denied::ForeignRequest(_))
        ));
        let same = headers(&[
            (header::HOST, "192.168.1.20:8080"),
            (header::ORIGIN, "http://192.168.1.20:8080"),
            (header::AUTHORIZATION, "Bearer t"),
        ]);
        assert_eq!(access.check(&same, None), Ok(()));
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(query_token("token=a%20b%2B"), Some("a b+".to_owned()));
        assert_eq!(query_token("x=1"), None);
        assert_eq!(query_token("token=%zz"), None);
    }
}
