//! Decodes or encodes one of the benchmark messages N times, for counting instructions per
//! message with callgrind, which the load of a shared machine does not disturb (criterion's
//! wall-clock figures are in `benches/codec.rs`):
//!
//! ```sh
//! cargo build --profile bench -p ccs-msg --example codec_loop
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/codec_loop din-cd-req decode 10000
//! ```
//!
//! (instructions with N = 10000 minus those with N = 0) / 10000 = instructions per message.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../benches/shared/messages.rs"]
mod messages;

use std::hint::black_box;

use ccs_msg::{app_handshake, din, iso2, iso20};
use messages::{josev_message, pyplc_vector};

fn repeat<T>(n: u64, mut f: impl FnMut() -> T) {
    for _ in 0..n {
        black_box(f());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (message, op, n) = (args[1].as_str(), args[2].as_str(), args[3].parse().unwrap());
    let decode = op == "decode";
    match message {
        "din-cd-req" | "din-cd-res" | "din-ss-res" => {
            let name = match message {
                "din-cd-req" => "CurrentDemandReq",
                "din-cd-res" => "CurrentDemandRes",
                _ => "SessionSetupRes",
            };
            let bytes = pyplc_vector("din", name);
            let msg = din::decode(&bytes).unwrap();
            if decode {
                repeat(n, || din::decode(black_box(&bytes)).unwrap());
            } else {
                repeat(n, || din::encode(black_box(&msg)).unwrap());
            }
        }
        "sap-req" => {
            let bytes = pyplc_vector("apphand", "supportedAppProtocolReq");
            let doc = app_handshake::decode(&bytes).unwrap();
            if decode {
                repeat(n, || app_handshake::decode(black_box(&bytes)).unwrap());
            } else {
                repeat(n, || black_box(&doc).encode().unwrap());
            }
        }
        "iso2-cd-req" => {
            let bytes = josev_message(0x8001, |p| {
                p.starts_with(&[0x80, 0x98])
                    && matches!(
                        iso2::decode(p).map(|m| m.body.body_element),
                        Ok(Some(iso2::BodyElement::CurrentDemandReq(_)))
                    )
            });
            let msg = iso2::decode(&bytes).unwrap();
            if decode {
                repeat(n, || iso2::decode(black_box(&bytes)).unwrap());
            } else {
                repeat(n, || iso2::encode(black_box(&msg)).unwrap());
            }
        }
        "iso20-dc-loop-req" => {
            let bytes = josev_message(0x8004, |p| {
                matches!(
                    iso20::dc::decode(p),
                    Ok(iso20::dc::Document::DC_ChargeLoopReq(_))
                )
            });
            let doc = iso20::dc::decode(&bytes).unwrap();
            if decode {
                repeat(n, || iso20::dc::decode(black_box(&bytes)).unwrap());
            } else {
                repeat(n, || black_box(&doc).encode().unwrap());
            }
        }
        other => panic!("unknown message {other}"),
    }
}
