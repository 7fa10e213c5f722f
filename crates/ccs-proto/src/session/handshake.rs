//! The app handshake (supportedAppProtocolReq/Res, ISO 15118-2 §8.2 and DIN SPEC 70121 §8.7.2
//! "Application layer protocol negotiation"): the car lists the protocols it speaks with
//! priorities and SchemaIDs, the charger picks one and echoes its SchemaID.
//!
//! pyPLC's charger ignored the car's priorities and its car never checked the answer
//! (`reference/pyplc-behaviour.md` §14.2 item 5); here the charger honours the priorities (or
//! its own preference, configurable) and the car checks the response code and the SchemaID.

use ccs_msg::app_handshake::{
    AppProtocolType, Document, ResponseCodeType, SupportedAppProtocolReq, SupportedAppProtocolRes,
};

use crate::session::config::{ProtocolOffer, ProtocolSelection};
use crate::session::{Protocol, SessionError};

/// The namespace and version of a protocol in the handshake.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ProtocolId {
    /// The ProtocolNamespace URI.
    pub namespace: &'static str,
    /// VersionNumberMajor.
    pub major: u32,
    /// VersionNumberMinor.
    pub minor: u32,
}

/// The handshake identity of `protocol` (namespaces as the schemas define them).
pub const fn protocol_id(protocol: Protocol) -> ProtocolId {
    match protocol {
        Protocol::Din70121 => ProtocolId {
            namespace: "urn:din:70121:2012:MsgDef",
            major: 2,
            minor: 0,
        },
        Protocol::Iso15118_2 => ProtocolId {
            namespace: "urn:iso:15118:2:2013:MsgDef",
            major: 2,
            minor: 0,
        },
        Protocol::Iso15118_20Dc | Protocol::Iso15118_20DcBpt => ProtocolId {
            namespace: "urn:iso:std:iso:15118:-20:DC",
            major: 1,
            minor: 0,
        },
    }
}

/// The protocols whose session machines exist; the others are neither offered nor accepted.
pub const fn is_implemented(protocol: Protocol) -> bool {
    matches!(
        protocol,
        Protocol::Din70121
            | Protocol::Iso15118_2
            | Protocol::Iso15118_20Dc
            | Protocol::Iso15118_20DcBpt
    )
}

/// The car's supportedAppProtocolReq for `offers` (in the given order).
pub fn request(offers: &[ProtocolOffer]) -> SupportedAppProtocolReq {
    SupportedAppProtocolReq {
        app_protocol: offers
            .iter()
            .map(|o| {
                let id = protocol_id(o.protocol);
                AppProtocolType {
                    protocol_namespace: id.namespace.to_owned(),
                    version_number_major: id.major,
                    version_number_minor: id.minor,
                    schema_id: o.schema_id,
                    priority: o.priority,
                }
            })
            .collect(),
    }
}

/// The charger's decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The response to send.
    pub response: SupportedAppProtocolRes,
    /// The chosen protocol and the car's SchemaID for it; `None` = no negotiation.
    pub chosen: Option<(Protocol, u8)>,
}

/// Picks a protocol for the car's `req` among `supported` (most preferred first; the caller
/// leaves out protocols without a machine, see [`is_implemented`]).
///
/// A car entry matches a supported protocol when the namespace and the major version are
/// equal; a different minor version still matches and is answered
/// `OK_SuccessfulNegotiationWithMinorDeviation`. With [`ProtocolSelection::CarPriority`] the
/// match with the car's best priority (lowest number) wins, ties going to our preference;
/// with [`ProtocolSelection::OwnPreference`] our order decides. Nothing matching →
/// `Failed_NoNegotiation` without a SchemaID.
pub fn select(
    req: &SupportedAppProtocolReq,
    supported: &[Protocol],
    selection: ProtocolSelection,
) -> Selection {
    // (our preference index, car entry)
    let mut candidates: Vec<(usize, Protocol, &AppProtocolType)> = Vec::new();
    for (pref, &protocol) in supported.iter().enumerate() {
        let id = protocol_id(protocol);
        for entry in &req.app_protocol {
            if entry.protocol_namespace == id.namespace && entry.version_number_major == id.major {
                candidates.push((pref, protocol, entry));
            }
        }
    }
    let best = match selection {
        ProtocolSelection::CarPriority => candidates
            .iter()
            .min_by_key(|(pref, _, entry)| (entry.priority, *pref)),
        ProtocolSelection::OwnPreference => candidates
            .iter()
            .min_by_key(|(pref, _, entry)| (*pref, entry.priority)),
    };
    match best {
        Some(&(_, protocol, entry)) => {
            let minor_deviation = entry.version_number_minor != protocol_id(protocol).minor;
            Selection {
                response: SupportedAppProtocolRes {
                    response_code: if minor_deviation {
                        ResponseCodeType::OK_SuccessfulNegotiationWithMinorDeviation
                    } else {
                        ResponseCodeType::OK_SuccessfulNegotiation
                    },
                    schema_id: Some(entry.schema_id),
                },
                chosen: Some((protocol, entry.schema_id)),
            }
        }
        None => Selection {
            response: SupportedAppProtocolRes {
                response_code: ResponseCodeType::Failed_NoNegotiation,
                schema_id: None,
            },
            chosen: None,
        },
    }
}

/// The car's check of the charger's answer: the response code must be a success and the
/// SchemaID must be one we offered (pyPLC checked neither).
pub fn check_response(
    res: &SupportedAppProtocolRes,
    offers: &[ProtocolOffer],
) -> Result<(Protocol, u8), SessionError> {
    match res.response_code {
        ResponseCodeType::OK_SuccessfulNegotiation
        | ResponseCodeType::OK_SuccessfulNegotiationWithMinorDeviation => {}
        ResponseCodeType::Failed_NoNegotiation => {
            return Err(SessionError::PeerIncompatible(
                "supportedAppProtocolRes: Failed_NoNegotiation".into(),
            ));
        }
    }
    let Some(schema_id) = res.schema_id else {
        return Err(SessionError::InvalidMessage(
            "supportedAppProtocolRes: success without a SchemaID".into(),
        ));
    };
    let Some(offer) = offers.iter().find(|o| o.schema_id == schema_id) else {
        return Err(SessionError::PeerMisbehaved(format!(
            "supportedAppProtocolRes: SchemaID {schema_id} was not offered"
        )));
    };
    Ok((offer.protocol, schema_id))
}

/// Decodes a handshake request (the charger's side).
pub fn decode_request(payload: &[u8]) -> Result<SupportedAppProtocolReq, SessionError> {
    match ccs_msg::app_handshake::decode(payload) {
        Ok(Document::SupportedAppProtocolReq(req)) => Ok(req),
        Ok(Document::SupportedAppProtocolRes(_)) => Err(SessionError::PeerMisbehaved(
            "supportedAppProtocolRes where the request was due".into(),
        )),
        Err(e) => Err(SessionError::InvalidMessage(format!(
            "supportedAppProtocolReq: {e}"
        ))),
    }
}

/// Decodes a handshake response (the car's side).
pub fn decode_response(payload: &[u8]) -> Result<SupportedAppProtocolRes, SessionError> {
    match ccs_msg::app_handshake::decode(payload) {
        Ok(Document::SupportedAppProtocolRes(res)) => Ok(res),
        Ok(Document::SupportedAppProtocolReq(_)) => Err(SessionError::PeerMisbehaved(
            "supportedAppProtocolReq where the response was due".into(),
        )),
        Err(e) => Err(SessionError::InvalidMessage(format!(
            "supportedAppProtocolRes: {e}"
        ))),
    }
}

/// A one-line summary of a request, for the event log.
pub fn request_summary(req: &SupportedAppProtocolReq) -> String {
    req.app_protocol
        .iter()
        .map(|p| {
            format!(
                "{} v{}.{} id={} prio={}",
                p.protocol_namespace,
                p.version_number_major,
                p.version_number_minor,
                p.schema_id,
                p.priority
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A one-line summary of a response, for the event log.
pub fn response_summary(res: &SupportedAppProtocolRes) -> String {
    match res.schema_id {
        Some(id) => format!("{:?} SchemaID={id}", res.response_code),
        None => format!("{:?}", res.response_code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ns: &str, major: u32, minor: u32, schema_id: u8, priority: u8) -> AppProtocolType {
        AppProtocolType {
            protocol_namespace: ns.into(),
            version_number_major: major,
            version_number_minor: minor,
            schema_id,
            priority,
        }
    }

    const DIN: &str = "urn:din:70121:2012:MsgDef";
    const ISO2: &str = "urn:iso:15118:2:2013:MsgDef";

    #[test]
    fn echoes_the_cars_schema_id() {
        // BMW iX3 offers DIN with SchemaID 0 (pyPLC #6/#9).
        let req = SupportedAppProtocolReq {
            app_protocol: vec![entry(DIN, 2, 0, 0, 1)],
        };
        let s = select(&req, &[Protocol::Din70121], ProtocolSelection::CarPriority);
        assert_eq!(s.chosen, Some((Protocol::Din70121, 0)));
        assert_eq!(s.response.schema_id, Some(0));
        assert_eq!(
            s.response.response_code,
            ResponseCodeType::OK_SuccessfulNegotiation
        );
    }

    #[test]
    fn unknown_namespaces_are_skipped_and_nothing_fitting_fails() {
        // Tesla: DIN + urn:tesla:din:2018:MsgDef with a better priority.
        let req = SupportedAppProtocolReq {
            app_protocol: vec![
                entry(DIN, 2, 0, 1, 2),
                entry("urn:tesla:din:2018:MsgDef", 0, 7, 2, 1),
            ],
        };
        let s = select(&req, &[Protocol::Din70121], ProtocolSelection::CarPriority);
        assert_eq!(s.chosen, Some((Protocol::Din70121, 1)));

        let iso_only = SupportedAppProtocolReq {
            app_protocol: vec![entry(ISO2, 2, 0, 0, 1)],
        };
        let s = select(
            &iso_only,
            &[Protocol::Din70121],
            ProtocolSelection::CarPriority,
        );
        assert_eq!(s.chosen, None);
        assert_eq!(
            s.response.response_code,
            ResponseCodeType::Failed_NoNegotiation
        );
        assert_eq!(s.response.schema_id, None);
    }

    #[test]
    fn car_priority_or_own_preference_decides() {
        // Polestar 2: DIN id 1 + ISO-2 id 0; here ISO-2 has the better priority.
        let req = SupportedAppProtocolReq {
            app_protocol: vec![entry(DIN, 2, 0, 1, 2), entry(ISO2, 2, 0, 0, 1)],
        };
        let both = [Protocol::Din70121, Protocol::Iso15118_2];
        let s = select(&req, &both, ProtocolSelection::CarPriority);
        assert_eq!(s.chosen, Some((Protocol::Iso15118_2, 0)));
        let s = select(&req, &both, ProtocolSelection::OwnPreference);
        assert_eq!(s.chosen, Some((Protocol::Din70121, 1)));
    }

    #[test]
    fn minor_deviation_and_major_mismatch() {
        let minor = SupportedAppProtocolReq {
            app_protocol: vec![entry(DIN, 2, 1, 5, 1)],
        };
        let s = select(
            &minor,
            &[Protocol::Din70121],
            ProtocolSelection::CarPriority,
        );
        assert_eq!(
            s.response.response_code,
            ResponseCodeType::OK_SuccessfulNegotiationWithMinorDeviation
        );
        assert_eq!(s.response.schema_id, Some(5));
        let major = SupportedAppProtocolReq {
            app_protocol: vec![entry(DIN, 3, 0, 5, 1)],
        };
        let s = select(
            &major,
            &[Protocol::Din70121],
            ProtocolSelection::CarPriority,
        );
        assert_eq!(s.chosen, None);
    }

    #[test]
    fn car_checks_code_and_schema_id() {
        let offers = [ProtocolOffer {
            protocol: Protocol::Din70121,
            priority: 1,
            schema_id: 1,
        }];
        let ok = SupportedAppProtocolRes {
            response_code: ResponseCodeType::OK_SuccessfulNegotiation,
            schema_id: Some(1),
        };
        assert_eq!(check_response(&ok, &offers), Ok((Protocol::Din70121, 1)));
        let wrong_id = SupportedAppProtocolRes {
            schema_id: Some(7),
            ..ok.clone()
        };
        assert!(matches!(
            check_response(&wrong_id, &offers),
            Err(SessionError::PeerMisbehaved(_))
        ));
        let failed = SupportedAppProtocolRes {
            response_code: ResponseCodeType::Failed_NoNegotiation,
            schema_id: None,
        };
        assert!(matches!(
            check_response(&failed, &offers),
            Err(SessionError::PeerIncompatible(_))
        ));
    }
}
