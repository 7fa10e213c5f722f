//! Injection points for the fault catalogue ([`crate::faults`]): what a broken cable, a
//! rebooting modem, a hostile peer or a dead hardware adapter does to a host, done to the
//! world from outside between two [`World::step`]s.
//!
//! Each hook acts at the world's current virtual time and leaves the protocol machines alone:
//! they see only what a real host would see (frames lost or doubled, a RST, bytes on the
//! stream, a modem that goes deaf, measurements that stop, a fault report from an adapter).

use ccs_proto::hardware::HardwareFault;

use super::{Direction, FrameRecord, Side, World};

/// What happens to a frame a host puts on its interface.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum FrameAction {
    /// Send it as it is.
    Pass,
    /// Lose it.
    Drop,
    /// Send it twice.
    Duplicate,
    /// Send these bytes instead.
    Replace(Vec<u8>),
}

/// Decides, for every frame a host sends, what the line does with it.
pub type FrameFilter = Box<dyn FnMut(&FrameRecord<'_>) -> FrameAction>;

impl World {
    /// Installs the frame filter (replacing an earlier one); the frame tap sees the frames
    /// as sent, before the filter.
    pub fn set_frame_filter(&mut self, filter: FrameFilter) {
        self.filter = Some(filter);
    }

    /// The host index of `side`, if the world has it.
    fn host_index(&self, side: Side) -> Option<usize> {
        self.hosts.iter().position(|h| h.side == side)
    }

    /// Aborts `side`'s TCP connection: it sends a RST and its session learns that the
    /// connection broke. False if the host has no connection.
    pub fn reset_connection(&mut self, side: Side) -> bool {
        let Some(tcp) = self
            .host_index(side)
            .and_then(|i| self.hosts[i].tcp.as_mut())
        else {
            return false;
        };
        tcp.abort();
        self.flush();
        true
    }

    /// Puts raw bytes into `side`'s TCP stream as if its V2GTP layer had written them
    /// (garbage, a header announcing too much, half a message); with `then_close` the host
    /// closes the stream right behind them. False if the host has no connection.
    pub fn inject_stream_bytes(&mut self, side: Side, bytes: &[u8], then_close: bool) -> bool {
        let Some(tcp) = self
            .host_index(side)
            .and_then(|i| self.hosts[i].tcp.as_mut())
        else {
            return false;
        };
        tcp.send(bytes);
        if then_close {
            tcp.close();
        }
        self.flush();
        true
    }

    /// Reboots the modem of `side` now (power glitch, watchdog). False without modems.
    pub fn reboot_modem(&mut self, side: Side) -> bool {
        let Some(i) = self.host_index(side) else {
            return false;
        };
        let done = self.medium.reboot_station(self.now, i);
        self.flush();
        done
    }

    /// A hardware adapter of `side` reports a fault (a lost MQTT broker, a serial device gone).
    pub fn hardware_fault(&mut self, side: Side, fault: HardwareFault) {
        if let Some(i) = self.host_index(side) {
            let now = self.now;
            if let Some(session) = &mut self.hosts[i].session {
                session.handle_hardware_fault(now, fault);
            }
            self.flush();
        }
    }

    /// The charger's power stage stops obeying: it keeps its last setpoint whatever the
    /// charger's session commands and ignores the car leaving CP state C (a stuck power
    /// module, a broken interlock), so its current does not fall when the car stops.
    pub fn set_charger_supply_stuck(&mut self, stuck: bool) {
        self.plant.set_supply_stuck(stuck);
    }

    /// Stops (or resumes) the measurements `side`'s session receives: a hardware adapter that
    /// went silent without saying so.
    pub fn set_measurements_blocked(&mut self, side: Side, blocked: bool) {
        if let Some(i) = self.host_index(side) {
            self.hosts[i].measurements_blocked = blocked;
        }
    }

    /// The user (or the car's BMS) asks `side` to stop charging now.
    pub fn stop_request(&mut self, side: Side) {
        if let Some(i) = self.host_index(side) {
            let now = self.now;
            if i == 0 {
                self.stop_requested = true;
            }
            if let Some(session) = &mut self.hosts[i].session {
                session.handle_stop_request(now);
            }
            self.flush();
        }
    }

    /// Sends `frame` through the filter onto the medium.
    pub(super) fn filtered_send(&mut self, i: usize, frame: &[u8]) {
        let action = match &mut self.filter {
            Some(filter) => filter(&FrameRecord {
                at: self.now,
                side: self.hosts[i].side,
                direction: Direction::Sent,
                frame,
            }),
            None => FrameAction::Pass,
        };
        match action {
            FrameAction::Pass => self.medium.handle_host_frame(self.now, i, frame),
            FrameAction::Drop => {}
            FrameAction::Duplicate => {
                self.medium.handle_host_frame(self.now, i, frame);
                self.medium.handle_host_frame(self.now, i, frame);
            }
            FrameAction::Replace(bytes) => self.medium.handle_host_frame(self.now, i, &bytes),
        }
    }
}
