//! Serial devices as pyPLC has them: the `dieter` Arduino, the `celeron55device`, the serial
//! OLED display ([`protocol`]), on a configured port or the first one found (`auto`).
//!
//! The port is served by one blocking thread (serial ports have no async API worth a
//! dependency here): it reads with a short timeout, forwards the bytes to the adapter task,
//! and writes what the adapter queues. A port that fails is a
//! [`HardwareFaultKind::ConnectionLost`] fault and ends the adapter, except for the OLED
//! display alone ([`SerialProtocol::DisplayOnly`]): charging does not depend on it, so a
//! display that is missing or goes away is a warning and the adapter idles (pyPLC runs on
//! without its display, and its template enables the display by default).

pub mod protocol;

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use ccs_proto::hardware::HardwareFaultKind;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant, MissedTickBehavior};

pub use self::protocol::{SerialCodec, SerialProtocol};
use crate::adapter::{AdapterError, AdapterIo, HardwareAdapter};

/// Which port, how fast, and what speaks on it. The binary maps pyPlc.ini's `serial_port`,
/// `serial_baud`, `digital_output_device` / `analog_input_device` and `display_via_serial`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SerialConfig {
    /// A device path, or `auto` for the first serial port found (pyPLC skips
    /// `/dev/ttyAMA0`).
    pub port: String,
    /// Baud rate (pyPLC default 19200).
    pub baud: u32,
    /// The device protocol.
    pub protocol: SerialProtocol,
    /// Whether the OLED display listens on the same port.
    pub display: bool,
    /// The period of the dieter output message (pyPLC: every 16 cycles ≈ 0.5 s).
    pub output_period: Duration,
    /// A value the device has sent and then not updated for this long is a stale-input
    /// fault (the devices send every value cyclically); `None` disables the check.
    pub input_timeout: Option<Duration>,
}

impl SerialConfig {
    /// pyPLC's defaults: port `auto`, 19200 baud.
    pub fn new(protocol: SerialProtocol) -> Self {
        Self {
            port: "auto".to_owned(),
            baud: 19_200,
            protocol,
            display: false,
            output_period: Duration::from_millis(480),
            input_timeout: None,
        }
    }
}

/// The first serial port under `sys_class_tty` (normally `/sys/class/tty`) as pyPLC's `auto`
/// picks it: ports backed by a device, sorted by name, USB ones (`ttyUSB*`, `ttyACM*`) first,
/// skipping `ttyAMA0` and the placeholder 8250 ports the kernel registers without hardware.
pub fn auto_detect_port(sys_class_tty: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(sys_class_tty).ok()?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name != "ttyAMA0")
        .filter(|name| {
            let device = sys_class_tty.join(name).join("device");
            if !device.exists() {
                return false;
            }
            // ttyS0..31 exist on every PC; only those not bound to the generic platform
            // device are real.
            let driver = std::fs::read_link(device.join("driver")).ok();
            let is_placeholder = driver
                .as_ref()
                .and_then(|d| d.file_name())
                .is_some_and(|d| d == "serial8250");
            !is_placeholder
        })
        .collect();
    names.sort_by_key(|n| {
        (
            !(n.starts_with("ttyUSB") || n.starts_with("ttyACM")),
            n.clone(),
        )
    });
    names.first().map(|n| Path::new("/dev").join(n))
}

/// The serial adapter.
#[derive(Debug)]
pub struct SerialAdapter {
    config: SerialConfig,
}

impl SerialAdapter {
    /// An adapter for `config`; the port is opened when the hub runs it.
    pub fn new(config: SerialConfig) -> Self {
        Self { config }
    }

    fn open(&self) -> Result<(PathBuf, Box<dyn serialport::SerialPort>), AdapterError> {
        let path = if self.config.port == "auto" {
            auto_detect_port(Path::new("/sys/class/tty")).ok_or_else(|| {
                AdapterError::Config("serial_port = auto, but no serial port was found".into())
            })?
        } else {
            PathBuf::from(&self.config.port)
        };
        let port = serialport::new(path.to_string_lossy(), self.config.baud)
            .timeout(Duration::from_millis(20))
            .open()
            .map_err(|e| AdapterError::Config(format!("serial port {}: {e}", path.display())))?;
        Ok((path, port))
    }
}

/// Reads and writes the port until the adapter drops its sender; what was queued before is
/// written first.
fn port_thread(
    mut port: Box<dyn serialport::SerialPort>,
    writes: std_mpsc::Receiver<Vec<u8>>,
    reads: mpsc::UnboundedSender<std::io::Result<Vec<u8>>>,
) {
    let mut buf = [0u8; 100];
    loop {
        loop {
            match writes.try_recv() {
                Ok(bytes) => {
                    if let Err(e) = port.write_all(&bytes).and_then(|()| port.flush()) {
                        let _ = reads.send(Err(e));
                        return;
                    }
                }
                Err(std_mpsc::TryRecvError::Empty) => break,
                Err(std_mpsc::TryRecvError::Disconnected) => return,
            }
        }
        match port.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => {
                if reads.send(Ok(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = reads.send(Err(e));
                return;
            }
        }
    }
}

fn thread_ended() -> AdapterError {
    AdapterError::Device("serial port thread ended".into())
}

/// The port failed: a device is lost (a fault that ends the adapter); a display alone is a
/// warning, and the adapter goes on without it.
async fn port_lost(
    io: AdapterIo,
    display_only: bool,
    error: AdapterError,
) -> Result<(), AdapterError> {
    if display_only {
        tracing::warn!("serial display: {error}; running without the display");
        return idle(io).await;
    }
    io.fault(HardwareFaultKind::ConnectionLost);
    Err(error)
}

/// Takes the commands without a port until the hub closes (a display that is not there).
async fn idle(mut io: AdapterIo) -> Result<(), AdapterError> {
    while io.next_command().await.is_some() {}
    Ok(())
}

impl HardwareAdapter for SerialAdapter {
    fn name(&self) -> String {
        match self.config.protocol {
            SerialProtocol::Dieter => "serial-dieter",
            SerialProtocol::Celeron55 => "serial-celeron55",
            SerialProtocol::DisplayOnly => "serial-display",
        }
        .to_owned()
    }

    async fn run(self, mut io: AdapterIo) -> Result<(), AdapterError> {
        let display_only = self.config.protocol == SerialProtocol::DisplayOnly;
        let (path, port) = match self.open() {
            Ok(opened) => opened,
            Err(e) if display_only => {
                tracing::warn!("serial display: {e}; running without the display");
                return idle(io).await;
            }
            Err(e) => return Err(e),
        };
        tracing::info!(port = %path.display(), baud = self.config.baud, "serial port open");
        let mut codec = SerialCodec::new(self.config.protocol, self.config.display);
        let (write_tx, write_rx) = std_mpsc::channel();
        let (read_tx, mut read_rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(format!("serial {}", path.display()))
            .spawn(move || port_thread(port, write_rx, read_tx))?;
        let mut tick = tokio::time::interval(self.config.output_period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut watch =
            crate::stale::InputWatch::new(self.config.input_timeout, &[], Instant::now());
        loop {
            for kind in watch.newly_stale(Instant::now()) {
                tracing::warn!(input = %kind, "serial device: input not updated in time");
                io.fault(HardwareFaultKind::StaleInput(kind));
            }
            let deadline = watch.next_deadline();
            let out = tokio::select! {
                cmd = io.next_command() => {
                    let Some(cmd) = cmd else {
                        // The last commands are the safe state: they must be on the wire
                        // before the adapter (and maybe the process) ends.
                        drop(write_tx);
                        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                        return Ok(());
                    };
                    codec.on_command(&cmd)
                }
                read = read_rx.recv() => match read {
                    Some(Ok(bytes)) => {
                        for m in codec.on_bytes(&bytes) {
                            if watch.arrived(m.kind(), Instant::now()) {
                                io.fault_cleared(HardwareFaultKind::StaleInput(m.kind()));
                            }
                            io.measurement(m);
                        }
                        Vec::new()
                    }
                    Some(Err(e)) => return port_lost(io, display_only, AdapterError::Io(e)).await,
                    None => return port_lost(io, display_only, thread_ended()).await,
                },
                _ = tick.tick() => codec.on_tick(),
                () = crate::sleep_until(deadline) => Vec::new(),
            };
            // The port thread ends when the port fails; a write may notice that first.
            if !out.is_empty() && write_tx.send(out).is_err() {
                return port_lost(io, display_only, thread_ended()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_usb_ports_and_skips_placeholders() {
        let sys = tempfile::tempdir().unwrap();
        let root = sys.path();
        let devices = root.join("devices");
        // A placeholder 8250 port, ttyAMA0, a real ttyS1, two USB adapters, a virtual tty.
        for (name, driver) in [
            ("ttyS0", Some("serial8250")),
            ("ttyS1", Some("dw-apb-uart")),
            ("ttyAMA0", Some("uart-pl011")),
            ("ttyUSB1", Some("ftdi_sio")),
            ("ttyACM0", Some("cdc_acm")),
            ("tty1", None),
        ] {
            let class = root.join("class").join(name);
            std::fs::create_dir_all(&class).unwrap();
            if let Some(driver) = driver {
                let dev = devices.join(name);
                std::fs::create_dir_all(&dev).unwrap();
                std::os::unix::fs::symlink(
                    devices.join("drivers").join(driver),
                    dev.join("driver"),
                )
                .unwrap();
                std::os::unix::fs::symlink(&dev, class.join("device")).unwrap();
            }
        }
        assert_eq!(
            auto_detect_port(&root.join("class")),
            Some(PathBuf::from("/dev/ttyACM0"))
        );
        std::fs::remove_dir_all(root.join("class/ttyACM0")).unwrap();
        std::fs::remove_dir_all(root.join("class/ttyUSB1")).unwrap();
        assert_eq!(
            auto_detect_port(&root.join("class")),
            Some(PathBuf::from("/dev/ttyS1"))
        );
        assert_eq!(auto_detect_port(&root.join("nothing")), None);
    }
}
