//! HomePlug frames: the MME parser, and both SLAC machines fed the frame in every state they
//! reach from a fresh start. Nothing may panic; outputs stay bounded.
#![no_main]

use ccs_proto::homeplug::{MacAddress, MmeFrame, Nmk};
use ccs_proto::slac::{EvSlac, EvSlacConfig, EvseSlac, EvseSlacConfig};
use ccs_proto::time::{Duration, Instant};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = MmeFrame::parse(data);
    let now = Instant::ZERO;
    let mut ev = EvSlac::new(EvSlacConfig::default(), MacAddress([2, 0, 0, 0, 0, 1]), [7; 32]);
    ev.start(now);
    let mut evse = EvseSlac::new(
        EvseSlacConfig::default(),
        MacAddress([2, 0, 0, 0, 0, 2]),
        Nmk([9; 16]),
        now,
    );
    // The input split at 0xff bytes: several frames, each delivered 100 ms apart.
    for (n, frame) in data.split(|b| *b == 0xff).enumerate() {
        let at = now + Duration::from_millis(100 * n as u64);
        let _ = ev.handle_frame(at, frame);
        let _ = evse.handle_frame(at, frame);
        if ev.poll_timeout().is_some_and(|t| t <= at) {
            ev.handle_timeout(at);
        }
        if evse.poll_timeout().is_some_and(|t| t <= at) {
            evse.handle_timeout(at);
        }
        let mut outputs = 0;
        while ev.poll_transmit().is_some() || ev.poll_event().is_some() {
            outputs += 1;
            assert!(outputs < 1000, "the car's SLAC keeps producing output");
        }
        outputs = 0;
        while evse.poll_transmit().is_some() || evse.poll_event().is_some() {
            outputs += 1;
            assert!(outputs < 1000, "the charger's SLAC keeps producing output");
        }
    }
});
