//! The CAN adapter over the in-memory bus (this machine's kernel has no CAN): a test node
//! plays the CHAdeMO BMS or listens to the FoccciCape status frames.

// Test helpers outside #[test] fns unwrap too: a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use ccs_io::can::{
    CanAdapter, CanBus, CanFrame, CanLayout, CanMapping, ChademoBridge, FoccciCape, MemoryCanBus,
    OutputSignal, SignalLayout, SignalMapping,
};
use ccs_io::{AdapterIo, HardwareAdapter};
use ccs_proto::hardware::{
    Amps, ContactorRequest, CpState, HardwareCommand, HardwareEvent, HardwareFault,
    HardwareFaultKind, LockRequest, Measurement, MeasurementKind, Percent, Volts,
};
use support::wait_for_event;

async fn recv_id(bus: &mut MemoryCanBus, id: u32) -> CanFrame {
    loop {
        let f = tokio::time::timeout(Duration::from_secs(5), bus.recv())
            .await
            .unwrap()
            .unwrap();
        if f.id() == id {
            return f;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn chademo_bridge_answers_the_bms_and_times_out_its_current_request() {
    let bms_bus = MemoryCanBus::new();
    let adapter_bus = bms_bus.node();
    let mut bms = bms_bus;
    let (io, commands, mut events) = AdapterIo::detached("can-chademo");
    tokio::spawn(CanAdapter::new(adapter_bus, CanLayout::Chademo(ChademoBridge::new())).run(io));

    commands
        .send(HardwareCommand::ChargerLimits {
            max_voltage: Volts(450.0),
            max_current: Amps(200.0),
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    bms.send(CanFrame::standard(0x100, &[0x5E, 0x01, 0, 0, 0, 0, 100, 0]).unwrap())
        .await
        .unwrap();
    let got = wait_for_event(&mut events, "battery voltage", |e| {
        matches!(e, HardwareEvent::Measurement(_))
    })
    .await;
    assert_eq!(
        got,
        HardwareEvent::Measurement(Measurement::BatteryVoltage(Volts(350.0)))
    );
    assert_eq!(
        recv_id(&mut bms, 0x108).await.data(),
        [0, 0xC2, 0x01, 200, 0, 0, 0, 0]
    );
    assert_eq!(
        recv_id(&mut bms, 0x109).await.data(),
        [10, 0, 0, 0, 0, 4, 0, 0]
    );

    bms.send(CanFrame::standard(0x102, &[0, 0x90, 0x01, 80, 0, 0, 40, 0]).unwrap())
        .await
        .unwrap();
    for expected in [
        Measurement::TargetVoltage(Volts(400.0)),
        Measurement::TargetCurrent(Amps(80.0)),
        Measurement::Soc(Percent(40.0)),
    ] {
        let got = wait_for_event(&mut events, "0x102 values", |e| {
            matches!(e, HardwareEvent::Measurement(_))
        })
        .await;
        assert_eq!(got, HardwareEvent::Measurement(expected));
    }

    // No 0x102 (and no 0x100) for a second: the current request drops to 0 A (pyPLC) and
    // every CHAdeMO input is reported stale.
    let mut after = Vec::new();
    for _ in 0..5 {
        after.push(wait_for_event(&mut events, "timeouts", |_| true).await);
    }
    let stale = |kind| {
        HardwareEvent::Fault(HardwareFault {
            adapter: "can-chademo".to_owned(),
            kind: HardwareFaultKind::StaleInput(kind),
        })
    };
    for expected in [
        HardwareEvent::Measurement(Measurement::TargetCurrent(Amps(0.0))),
        stale(MeasurementKind::BatteryVoltage),
        stale(MeasurementKind::TargetVoltage),
        stale(MeasurementKind::TargetCurrent),
        stale(MeasurementKind::Soc),
    ] {
        assert!(after.contains(&expected), "{expected:?} not in {after:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn focccicape_sends_its_status_frames_every_cycle() {
    let mut listener = MemoryCanBus::new();
    let adapter_bus = listener.node();
    let (io, commands, _events) = AdapterIo::detached("can-focccicape");
    let layout = CanLayout::Foccci(FoccciCape::new(Duration::from_millis(30), 7));
    tokio::spawn(CanAdapter::new(adapter_bus, layout).run(io));
    commands
        .send(HardwareCommand::SessionState("CableCheck".to_owned()))
        .unwrap();
    commands
        .send(HardwareCommand::EvccId("020304050607".to_owned()))
        .unwrap();
    // Skip frames sent before the commands arrived.
    loop {
        if recv_id(&mut listener, 0x678).await.data()[0] == 9 {
            break;
        }
    }
    let mac = recv_id(&mut listener, 0x67A).await;
    assert_eq!(mac.data(), [2, 3, 4, 5, 6, 7, 7, 0]);
}

#[tokio::test(start_paused = true)]
async fn focccicape_sends_the_final_state_at_exit_without_waiting_for_a_cycle() {
    let mut listener = MemoryCanBus::new();
    let adapter_bus = listener.node();
    let (io, commands, _events) = AdapterIo::detached("can-focccicape");
    // The next cycle would come long after the process has ended.
    let layout = CanLayout::Foccci(FoccciCape::new(Duration::from_secs(3600), 7));
    let adapter = tokio::spawn(CanAdapter::new(adapter_bus, layout).run(io));
    assert_eq!(recv_id(&mut listener, 0x678).await.data()[0], 0);
    for state in ["CurrentDemand", "SessionStop", "Stopped"] {
        commands
            .send(HardwareCommand::SessionState(state.to_owned()))
            .unwrap();
    }
    drop(commands);
    // pyPLC's INFONR 2: stopped.
    assert_eq!(recv_id(&mut listener, 0x678).await.data()[0], 2);
    adapter.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_user_mapping_drives_outputs_and_reads_inputs() {
    let mut peer = MemoryCanBus::new();
    let adapter_bus = peer.node();
    let mapping = CanMapping::new(
        vec![SignalMapping {
            signal: MeasurementKind::ContactorsClosed,
            layout: SignalLayout::new(0x400, 0, 1),
        }],
        vec![
            SignalMapping {
                signal: OutputSignal::CpStateC,
                layout: SignalLayout::new(0x410, 0, 1),
            },
            SignalMapping {
                signal: OutputSignal::ContactorsClosed,
                layout: SignalLayout::new(0x410, 1, 1),
            },
        ],
        Some(Duration::from_millis(100)),
        None,
    )
    .unwrap();
    let (io, commands, mut events) = AdapterIo::detached("can-mapping");
    tokio::spawn(CanAdapter::new(adapter_bus, CanLayout::Mapping(mapping)).run(io));
    assert_eq!(recv_id(&mut peer, 0x410).await.data(), [0, 0]);
    commands.send(HardwareCommand::CpState(CpState::C)).unwrap();
    commands
        .send(HardwareCommand::Contactors(ContactorRequest::Closed))
        .unwrap();
    loop {
        if recv_id(&mut peer, 0x410).await.data() == [1, 1] {
            break;
        }
    }
    peer.send(CanFrame::standard(0x400, &[1]).unwrap())
        .await
        .unwrap();
    let got = wait_for_event(&mut events, "feedback", |_| true).await;
    assert_eq!(
        got,
        HardwareEvent::Measurement(Measurement::ContactorsClosed(true))
    );
}

#[tokio::test(start_paused = true)]
async fn a_mapping_puts_out_the_last_commands_at_exit_and_leaves_the_lock_alone() {
    let mut peer = MemoryCanBus::new();
    let adapter_bus = peer.node();
    let output = |signal, offset| SignalMapping {
        signal,
        layout: SignalLayout::new(0x410, offset, 1),
    };
    let mapping = CanMapping::new(
        Vec::new(),
        vec![
            output(OutputSignal::CpStateC, 0),
            output(OutputSignal::ContactorsClosed, 1),
            output(OutputSignal::ConnectorLock, 2),
        ],
        // The next periodic frame would come long after the process has ended.
        Some(Duration::from_secs(3600)),
        None,
    )
    .unwrap();
    let (io, commands, _events) = AdapterIo::detached("can-mapping");
    let adapter = tokio::spawn(CanAdapter::new(adapter_bus, CanLayout::Mapping(mapping)).run(io));
    assert_eq!(recv_id(&mut peer, 0x410).await.data(), [0, 0, 0]);
    for command in [
        HardwareCommand::ConnectorLock(LockRequest::Lock),
        HardwareCommand::CpState(CpState::C),
        HardwareCommand::Contactors(ContactorRequest::Closed),
        // The safe state at exit; the car decided the connector stays locked.
        HardwareCommand::Contactors(ContactorRequest::Open),
        HardwareCommand::CpState(CpState::B),
    ] {
        commands.send(command).unwrap();
    }
    drop(commands);
    // Sent once at the end, not left to a tick: CP B, contactors open, still locked.
    assert_eq!(recv_id(&mut peer, 0x410).await.data(), [0, 0, 1]);
    adapter.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_chademo_current_request_timeout_is_configurable() {
    let bms_bus = MemoryCanBus::new();
    let adapter_bus = bms_bus.node();
    let mut bms = bms_bus;
    let (io, _commands, mut events) = AdapterIo::detached("can-chademo");
    let bridge = ChademoBridge::new().with_current_request_timeout(Duration::from_secs(3));
    tokio::spawn(CanAdapter::new(adapter_bus, CanLayout::Chademo(bridge)).run(io));
    tokio::time::sleep(Duration::from_millis(10)).await;
    bms.send(CanFrame::standard(0x102, &[0, 0x90, 0x01, 80, 0, 0, 40, 0]).unwrap())
        .await
        .unwrap();
    for _ in 0..2 {
        wait_for_event(&mut events, "0x102 values", |e| {
            matches!(e, HardwareEvent::Measurement(_))
        })
        .await;
    }
    // Past pyPLC's 1 s, within the configured 3 s: nothing yet.
    let early = tokio::time::timeout(Duration::from_millis(2500), events.recv()).await;
    assert!(early.is_err(), "{early:?}");
    let mut late = Vec::new();
    for _ in 0..3 {
        late.push(wait_for_event(&mut events, "timeout", |_| true).await);
    }
    let zero = HardwareEvent::Measurement(Measurement::TargetCurrent(Amps(0.0)));
    assert!(late.contains(&zero), "{late:?}");
}
