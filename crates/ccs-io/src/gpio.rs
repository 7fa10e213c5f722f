//! GPIO through the Linux GPIO character device (`/dev/gpiochipN`): CP state, contactor
//! relay and lock outputs, a stop button and a contactor feedback input.
//!
//! pyPLC drives a BeagleBone's pins by name (P9_41 = CP, high = state C; P9_17 = power relay;
//! FoccciCape: button P9_30, low = pressed, debounced over 3 cycles, stop held for 100 cycles;
//! `reference/pyplc-behaviour.md` §11.1, §11.3). Here lines are chip offsets, so any board
//! works; the mapping from BeagleBone pin names to offsets is the user's.
//!
//! The line logic ([`GpioLogic`]) is plain values and always compiled; the adapter that
//! touches the character device (`GpioAdapter`) needs the `gpio` feature.

use ccs_proto::hardware::{ContactorRequest, CpState, HardwareCommand, LockRequest, Measurement};

/// Which chip and which lines. Unset lines are not used.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GpioConfig {
    /// The GPIO chip device, e.g. `/dev/gpiochip0`.
    pub chip: std::path::PathBuf,
    /// CP state output: active = state C (BeagleBone P9_41).
    pub cp_line: Option<u32>,
    /// Contactor relay output: active = closed (BeagleBone P9_17).
    pub contactor_line: Option<u32>,
    /// Lock motor output: active = locked.
    pub lock_line: Option<u32>,
    /// Stop button input: active = pressed (FoccciCape P9_30, wired active low).
    pub stop_button_line: Option<u32>,
    /// Whether the stop button reads low when pressed.
    pub stop_button_active_low: bool,
    /// Contactor auxiliary contact input: active = closed.
    pub contactor_feedback_line: Option<u32>,
    /// How often inputs are sampled (pyPLC: once per 30 ms cycle).
    pub sample_period: std::time::Duration,
    /// Consecutive pressed samples before a stop counts (pyPLC: 3).
    pub debounce_samples: u32,
    /// How many samples a stop request is held (pyPLC: 100 cycles ≈ 3 s).
    pub stop_hold_samples: u32,
}

impl GpioConfig {
    /// No lines on `chip`, pyPLC's timing.
    pub fn new(chip: impl Into<std::path::PathBuf>) -> Self {
        Self {
            chip: chip.into(),
            cp_line: None,
            contactor_line: None,
            lock_line: None,
            stop_button_line: None,
            stop_button_active_low: true,
            contactor_feedback_line: None,
            sample_period: std::time::Duration::from_millis(30),
            debounce_samples: 3,
            stop_hold_samples: 100,
        }
    }
}

/// Commands to line levels and input samples to measurements.
#[derive(Debug)]
pub struct GpioLogic {
    cp_line: Option<u32>,
    contactor_line: Option<u32>,
    lock_line: Option<u32>,
    debounce_samples: u32,
    stop_hold_samples: u32,
    pressed_count: u32,
    hold_left: u32,
    enabled: Option<bool>,
    feedback: Option<bool>,
    samples_since_report: u32,
}

/// Inputs are reported on change and at least this often (in samples), so a snapshot's
/// max-age check sees them as alive.
const REFRESH_SAMPLES: u32 = 33;

impl GpioLogic {
    /// The logic for `config`.
    pub fn new(config: &GpioConfig) -> Self {
        Self {
            cp_line: config.cp_line,
            contactor_line: config.contactor_line,
            lock_line: config.lock_line,
            debounce_samples: config.debounce_samples.max(1),
            stop_hold_samples: config.stop_hold_samples,
            pressed_count: 0,
            hold_left: 0,
            enabled: None,
            feedback: None,
            samples_since_report: 0,
        }
    }

    /// The output levels when the adapter ends: CP state B, contactor open. The lock line
    /// keeps the state the session left it in: a car that decided the connector must stay
    /// locked (inlet live, contactors not confirmed open) must not unlock because the process
    /// ends. (At start every output, the lock line included, is requested inactive.)
    pub fn exit_levels(&self) -> Vec<(u32, bool)> {
        [self.cp_line, self.contactor_line]
            .into_iter()
            .flatten()
            .map(|line| (line, false))
            .collect()
    }

    /// The line levels (true = active) a command sets.
    pub fn on_command(&self, command: &HardwareCommand) -> Vec<(u32, bool)> {
        let (line, level) = match command {
            HardwareCommand::CpState(cp) => (self.cp_line, *cp == CpState::C),
            HardwareCommand::Contactors(r) => (self.contactor_line, *r == ContactorRequest::Closed),
            HardwareCommand::ConnectorLock(r) => (self.lock_line, *r == LockRequest::Lock),
            _ => (None, false),
        };
        line.map(|l| vec![(l, level)]).unwrap_or_default()
    }

    /// One sample of the inputs (`None` = not configured): the measurements to report.
    pub fn sample(
        &mut self,
        button_pressed: Option<bool>,
        feedback: Option<bool>,
    ) -> Vec<Measurement> {
        let mut out = Vec::new();
        self.samples_since_report += 1;
        let refresh = self.samples_since_report >= REFRESH_SAMPLES;
        if refresh {
            self.samples_since_report = 0;
        }
        if let Some(pressed) = button_pressed {
            self.pressed_count = if pressed { self.pressed_count + 1 } else { 0 };
            if self.pressed_count >= self.debounce_samples {
                self.pressed_count = 0;
                self.hold_left = self.stop_hold_samples;
            } else if self.hold_left > 0 {
                self.hold_left -= 1;
            }
            let enabled = self.hold_left == 0;
            if self.enabled != Some(enabled) || refresh {
                self.enabled = Some(enabled);
                out.push(Measurement::ChargingEnabled(enabled));
            }
        }
        if let Some(closed) = feedback
            && (self.feedback != Some(closed) || refresh)
        {
            self.feedback = Some(closed);
            out.push(Measurement::ContactorsClosed(closed));
        }
        out
    }
}

#[cfg(feature = "gpio")]
pub use self::device::GpioAdapter;

#[cfg(feature = "gpio")]
mod device {
    use gpiocdev::line::Value;
    use tokio::time::MissedTickBehavior;

    use super::{GpioConfig, GpioLogic};
    use crate::adapter::{AdapterError, AdapterIo, HardwareAdapter};
    use ccs_proto::hardware::HardwareFaultKind;

    /// The GPIO adapter (feature `gpio`).
    #[derive(Debug)]
    pub struct GpioAdapter {
        config: GpioConfig,
    }

    impl GpioAdapter {
        /// An adapter for `config`; the lines are requested when the hub runs it.
        pub fn new(config: GpioConfig) -> Self {
            Self { config }
        }

        fn request(&self) -> Result<gpiocdev::Request, gpiocdev::Error> {
            let c = &self.config;
            let mut builder = gpiocdev::Request::builder();
            builder.on_chip(&c.chip).with_consumer("ccsplc");
            for line in [c.cp_line, c.contactor_line, c.lock_line]
                .into_iter()
                .flatten()
            {
                builder.with_line(line).as_output(Value::Inactive);
            }
            if let Some(line) = c.stop_button_line {
                builder.with_line(line).as_input();
                if c.stop_button_active_low {
                    builder.as_active_low();
                }
            }
            if let Some(line) = c.contactor_feedback_line {
                builder.with_line(line).as_input();
            }
            builder.request()
        }
    }

    fn level(active: bool) -> Value {
        if active {
            Value::Active
        } else {
            Value::Inactive
        }
    }

    impl HardwareAdapter for GpioAdapter {
        fn name(&self) -> String {
            "gpio".to_owned()
        }

        async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
            let request = self.request().map_err(|e| {
                AdapterError::Config(format!("GPIO {}: {e}", self.config.chip.display()))
            })?;
            let mut logic = GpioLogic::new(&self.config);
            let mut tick = tokio::time::interval(self.config.sample_period);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let read = |line: Option<u32>| -> Result<Option<bool>, gpiocdev::Error> {
                line.map(|l| request.value(l).map(|v| v == Value::Active))
                    .transpose()
            };
            let result = loop {
                tokio::select! {
                    cmd = io.next_command() => {
                        let Some(cmd) = cmd else { break Ok(()) };
                        let set = logic
                            .on_command(&cmd)
                            .into_iter()
                            .try_for_each(|(line, active)| request.set_value(line, level(active)));
                        if let Err(e) = set {
                            break Err(e);
                        }
                    }
                    _ = tick.tick() => {
                        let sampled = read(self.config.stop_button_line)
                            .and_then(|b| Ok((b, read(self.config.contactor_feedback_line)?)));
                        match sampled {
                            Ok((button, feedback)) => {
                                for m in logic.sample(button, feedback) {
                                    io.measurement(m);
                                }
                            }
                            Err(e) => break Err(e),
                        }
                    }
                }
            };
            // Leave the outputs safe whatever happened (CP B, contactor open); the lock line
            // stays as the session left it.
            for (line, active) in logic.exit_levels() {
                let _ = request.set_value(line, level(active));
            }
            result.map_err(|e| {
                io.fault(HardwareFaultKind::Device(e.to_string()));
                AdapterError::Device(format!("GPIO: {e}"))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GpioConfig {
        let mut c = GpioConfig::new("/dev/gpiochip0");
        c.cp_line = Some(41);
        c.contactor_line = Some(17);
        c.stop_button_line = Some(30);
        c.contactor_feedback_line = Some(5);
        c.stop_hold_samples = 4;
        c
    }

    #[test]
    fn commands_map_to_lines() {
        let logic = GpioLogic::new(&config());
        assert_eq!(
            logic.on_command(&HardwareCommand::CpState(CpState::C)),
            [(41, true)]
        );
        assert_eq!(
            logic.on_command(&HardwareCommand::Contactors(ContactorRequest::Open)),
            [(17, false)]
        );
        // No lock line configured.
        assert!(
            logic
                .on_command(&HardwareCommand::ConnectorLock(LockRequest::Lock))
                .is_empty()
        );
    }

    #[test]
    fn at_exit_cp_and_contactor_go_safe_and_the_lock_stays_as_it_is() {
        let mut c = config();
        c.lock_line = Some(22);
        let logic = GpioLogic::new(&c);
        assert_eq!(
            logic.on_command(&HardwareCommand::ConnectorLock(LockRequest::Lock)),
            [(22, true)]
        );
        // The car may have decided the connector stays locked (inlet live): the process
        // ending must not unlock it.
        assert_eq!(logic.exit_levels(), [(41, false), (17, false)]);
    }

    #[test]
    fn stop_button_is_debounced_and_held() {
        let mut logic = GpioLogic::new(&config());
        assert_eq!(
            logic.sample(Some(false), Some(false)),
            [
                Measurement::ChargingEnabled(true),
                Measurement::ContactorsClosed(false)
            ]
        );
        // Two pressed samples are a spike, not a stop.
        assert!(logic.sample(Some(true), Some(false)).is_empty());
        assert!(logic.sample(Some(true), Some(false)).is_empty());
        assert!(logic.sample(Some(false), Some(false)).is_empty());
        for _ in 0..2 {
            assert!(logic.sample(Some(true), Some(false)).is_empty());
        }
        assert_eq!(
            logic.sample(Some(true), Some(true)),
            [
                Measurement::ChargingEnabled(false),
                Measurement::ContactorsClosed(true)
            ]
        );
        // Held for 4 samples after release, then enabled again.
        for _ in 0..3 {
            assert!(logic.sample(Some(false), Some(true)).is_empty());
        }
        assert_eq!(
            logic.sample(Some(false), Some(true)),
            [Measurement::ChargingEnabled(true)]
        );
    }
}
