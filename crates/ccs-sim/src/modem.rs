//! A simulated HomePlug Green PHY modem (QCA7420 "TP-Link" or QCA7000/7005 flavour), sans-IO:
//! frames from its host and from the powerline go in, frames to its host and onto the
//! powerline come out, each at the virtual time it is due.
//!
//! What it models (homeplug-slac.md §8.3): the management MMEs a host sends to its modem
//! (VS_SW_VER, CM_SET_KEY with the old key still in effect for a while and then a reboot gap,
//! CM_GET_KEY, VS_PL_LNK_STATUS, CM_NW_INFO, VS_RS_DEV), CM_ATTEN_PROFILE.IND and the 0xA14E
//! twin per received sound on an EVSE-role modem, beacons and joining: a PEV-role modem joins
//! the AVLN of an EVSE-role (CCo) modem only when both hold the same NMK **and** NID. Before
//! that only SLAC MMEs cross the line; afterwards every frame is bridged.
//!
//! Not modelled: fragmentation, encryption on the wire (the tag carries the key instead),
//! several AVLNs per CCo, broadcast CM_SET_KEY reaching remote modems.

use std::collections::BTreeSet;

use ccs_proto::homeplug::key_msg::{
    GET_KEY_RESULT_GRANTED, GET_KEY_RESULT_REFUSED, GetKeyCnf, GetKeyReq, PID_HLE,
    SET_KEY_RESULT_QCA_ACCEPTED, SetKeyCnf, SetKeyReq,
};
use ccs_proto::homeplug::network_msg::{
    NetworkInfo, NwInfoCnf, STATION_ROLE_CCO, STATION_ROLE_STA,
};
use ccs_proto::homeplug::slac_msg::{ATTEN_GROUPS, AttenProfileInd};
use ccs_proto::homeplug::vendor_msg::{
    DEVICE_CLASS_QCA7000, DEVICE_CLASS_QCA7420, PlLinkStatusCnf, RsDevCnf, SwVerCnf, VsAttenCharInd,
};
use ccs_proto::homeplug::{MacAddress, MmType, Mme, MmeFrame, Nid, Nmk, Oui};
use ccs_proto::slac::keys::SecurityLevel;
use ccs_proto::time::{Duration, Instant};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// Which side of the cable the modem's PIB is for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ModemRole {
    /// PEV PIB: CCo never, SLAC mode PEV; sends sounds, joins the charger's AVLN.
    Pev,
    /// EVSE PIB: CCo always, SLAC mode EVSE; measures sounds.
    Evse,
}

/// The chip, which decides what the attenuation indications contain.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ChipFlavour {
    /// TP-Link TL-PA4010 (QCA7420/AR7420): CM_ATTEN_PROFILE.IND with NumGroups 0.
    TpLinkQca7420,
    /// QCA7000/7005: 58 real attenuation groups.
    Qca7000,
}

/// The knobs of one simulated modem.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ModemConfig {
    /// PEV or EVSE PIB.
    pub role: ModemRole,
    /// Chip flavour.
    pub flavour: ChipFlavour,
    /// The modem's own MAC (not the host's).
    pub mac: MacAddress,
    /// The VS_SW_VER string.
    pub firmware: String,
    /// How long the modem takes to answer its host (1–5 ms on real modems).
    pub response_delay: Duration,
    /// After CM_SET_KEY.CNF the old key stays in effect this long (TP-Link ≈ 2.5–4 s) …
    pub key_apply_delay: Duration,
    /// … then the modem reboots: no answers, no forwarding, for this long.
    pub reboot_time: Duration,
    /// PEV: time from seeing the CCo's beacon with our NID to being associated (car modems
    /// < 0.5 s, a TP-Link as EV modem 5–7 s).
    pub join_delay: Duration,
    /// CCo beacon period.
    pub beacon_interval: Duration,
    /// The CM_SET_KEY.CNF Result sent; anything but `01` means "not applied" (QCA behaviour).
    pub set_key_result: u8,
    /// The association never completes (a broken modem or PIB).
    pub join_never_completes: bool,
    /// The modem is dead or missing: nothing is answered or forwarded.
    pub absent: bool,
    /// OUI in the 0xA14E indication (`00 B0 52`, or `00 00 00` on some QCA7005s).
    pub atten_char_oui: Oui,
    /// Delay between a received sound and its CM_ATTEN_PROFILE.IND (0–8 ms).
    pub profile_delay: Duration,
    /// Maximum deviation of each AAG value from the link attenuation, dB.
    pub profile_noise_db: u8,
    /// Forward SLAC messages heard on the line to the host whatever their destination, as the
    /// TP-Link of pyPLC's listener did (it logged the CM_SLAC_MATCH.CNF of another car in
    /// `2025-01-21_listenMode_01…05` and `2022-10-26_WP4_…`): how a listener sniffs the key.
    pub forward_foreign_slac: bool,
    /// Forward unicast frames of the own AVLN addressed to other hosts. No TP-Link does this
    /// (pyPLC's sniffing experiments: unicast stays hidden); it stands for a modem with a
    /// sniffer mode or a port mirror, so that tests can show what a listener then decodes.
    pub forward_foreign_unicast: bool,
}

impl ModemConfig {
    /// A modem of `role` with sensible, fast defaults (a car-like modem: joins in 300 ms).
    pub fn new(role: ModemRole, flavour: ChipFlavour, mac: MacAddress) -> Self {
        let firmware = match flavour {
            ChipFlavour::TpLinkQca7420 => "MAC-QCA7420-1.4.0.20-00-20171027-CS",
            ChipFlavour::Qca7000 => "MAC-QCA7005-1.1.0.730-04-20140815-CS",
        };
        Self {
            role,
            flavour,
            mac,
            firmware: firmware.to_owned(),
            response_delay: Duration::from_millis(2),
            key_apply_delay: Duration::from_millis(500),
            reboot_time: Duration::from_millis(800),
            join_delay: Duration::from_millis(300),
            beacon_interval: Duration::from_millis(100),
            set_key_result: SET_KEY_RESULT_QCA_ACCEPTED,
            join_never_completes: false,
            absent: false,
            atten_char_oui: Oui::QCA,
            profile_delay: Duration::from_millis(4),
            profile_noise_db: 2,
            forward_foreign_slac: false,
            forward_foreign_unicast: false,
        }
    }
}

/// The key material that marks an AVLN (stands in for the encryption on the wire).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct AvlnTag {
    /// Network ID.
    pub nid: Nid,
    /// Network membership key.
    pub nmk: Nmk,
}

/// What travels on the simulated powerline between modems.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LineFrame {
    /// An Ethernet frame from a host, tagged with the sender's AVLN if it is in one.
    Data {
        /// The sending modem.
        from_modem: MacAddress,
        /// The sender's AVLN, if associated.
        avln: Option<AvlnTag>,
        /// The host's Ethernet frame.
        frame: Vec<u8>,
    },
    /// A CCo beacon announcing its NID.
    Beacon {
        /// The CCo modem.
        cco: MacAddress,
        /// Its network.
        nid: Nid,
    },
    /// A station asks the CCo to join (authenticating with the NMK).
    JoinRequest {
        /// The station's modem.
        station: MacAddress,
        /// The CCo addressed.
        cco: MacAddress,
        /// The station's key.
        tag: AvlnTag,
    },
    /// The CCo admits the station.
    JoinConfirm {
        /// The CCo.
        cco: MacAddress,
        /// The admitted station.
        station: MacAddress,
    },
    /// A station left (rebooted).
    Leave {
        /// The station's modem.
        station: MacAddress,
    },
    /// The CCo rebooted: its AVLN is gone.
    NetworkGone {
        /// The CCo.
        cco: MacAddress,
    },
}

/// Something the modem emits.
#[derive(Clone, Debug, PartialEq)]
pub enum ModemOutput {
    /// An Ethernet frame for the modem's host.
    ToHost(Vec<u8>),
    /// A frame onto the powerline.
    ToLine(LineFrame),
}

#[derive(Clone, Debug, PartialEq)]
enum Association {
    /// Not in any AVLN (PEV searching for beacons, or rebooting).
    None,
    /// CCo of its own AVLN with these member modems.
    Cco { members: BTreeSet<MacAddress> },
    /// PEV: saw a beacon with our NID, associating.
    Joining { cco: MacAddress, done_at: Instant },
    /// PEV: member of the CCo's AVLN.
    Member { cco: MacAddress },
}

/// A simulated modem. See the module docs.
#[derive(Debug)]
pub struct SimModem {
    config: ModemConfig,
    key: AvlnTag,
    pending_key: Option<(AvlnTag, Instant)>,
    rebooting_until: Option<Instant>,
    association: Association,
    host_macs: BTreeSet<MacAddress>,
    next_beacon: Option<Instant>,
    outputs: Vec<(Instant, u64, ModemOutput)>,
    sequence: u64,
    rng: ChaCha8Rng,
}

impl SimModem {
    /// A freshly powered modem with a factory key unique to its MAC (so that no two modems
    /// form an AVLN by accident).
    pub fn new(config: ModemConfig, seed: u64, now: Instant) -> Self {
        let mut factory = b"ccs-sim factory key ".to_vec();
        factory.extend_from_slice(config.mac.as_bytes());
        let nmk = Nmk::from_password(&factory);
        let key = AvlnTag {
            nid: Nid::from_nmk(&nmk, SecurityLevel::SimpleConnect),
            nmk,
        };
        let mut modem = Self {
            config,
            key,
            pending_key: None,
            rebooting_until: None,
            association: Association::None,
            host_macs: BTreeSet::new(),
            next_beacon: None,
            outputs: Vec::new(),
            sequence: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        modem.come_up(now);
        modem
    }

    /// The modem's MAC.
    pub fn mac(&self) -> MacAddress {
        self.config.mac
    }

    /// Its configuration.
    pub const fn config(&self) -> &ModemConfig {
        &self.config
    }

    /// Its configuration, to change knobs mid-run (they apply from the next event on).
    pub const fn config_mut(&mut self) -> &mut ModemConfig {
        &mut self.config
    }

    /// The key in effect.
    pub const fn key(&self) -> AvlnTag {
        self.key
    }

    /// Reboots now, as a power glitch or a watchdog would: the modem leaves its AVLN, is deaf
    /// for [`ModemConfig::reboot_time`], then comes up with the key it had.
    pub fn reboot_now(&mut self, now: Instant) {
        self.reboot(now);
    }

    /// True while rebooting.
    pub fn is_rebooting(&self, now: Instant) -> bool {
        self.rebooting_until.is_some_and(|until| now < until)
    }

    /// True if the modem is in an AVLN with at least one other station (what
    /// VS_PL_LNK_STATUS reports).
    pub fn link_up(&self) -> bool {
        match &self.association {
            Association::Member { .. } => true,
            Association::Cco { members } => !members.is_empty(),
            Association::None | Association::Joining { .. } => false,
        }
    }

    /// The AVLN tag frames are sent with, if associated.
    fn avln(&self) -> Option<AvlnTag> {
        self.link_up().then_some(self.key)
    }

    fn emit_at(&mut self, at: Instant, output: ModemOutput) {
        self.sequence += 1;
        self.outputs.push((at, self.sequence, output));
    }

    fn answer(&mut self, now: Instant, host: MacAddress, body: Mme) {
        let frame = MmeFrame::new(host, self.config.mac, body).emit();
        self.emit_at(now + self.config.response_delay, ModemOutput::ToHost(frame));
    }

    fn come_up(&mut self, now: Instant) {
        self.rebooting_until = None;
        self.association = match self.config.role {
            ModemRole::Evse => {
                self.next_beacon = Some(now);
                Association::Cco {
                    members: BTreeSet::new(),
                }
            }
            ModemRole::Pev => {
                self.next_beacon = None;
                Association::None
            }
        };
    }

    fn reboot(&mut self, now: Instant) {
        let leave = match &self.association {
            Association::Cco { .. } => Some(LineFrame::NetworkGone {
                cco: self.config.mac,
            }),
            Association::Member { .. } | Association::Joining { .. } => Some(LineFrame::Leave {
                station: self.config.mac,
            }),
            Association::None => None,
        };
        if let Some(leave) = leave {
            self.emit_at(now, ModemOutput::ToLine(leave));
        }
        self.association = Association::None;
        self.next_beacon = None;
        self.rebooting_until = Some(now + self.config.reboot_time);
    }

    /// The next time the modem has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let outputs = self.outputs.iter().map(|(at, ..)| *at).min();
        let joining = match &self.association {
            Association::Joining { done_at, .. } if !self.config.join_never_completes => {
                Some(*done_at)
            }
            _ => None,
        };
        [
            outputs,
            self.pending_key.map(|(_, at)| at),
            self.rebooting_until,
            self.next_beacon,
            joining,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.config.absent {
            self.next_beacon = None;
            return;
        }
        if let Some((tag, at)) = self.pending_key
            && at <= now
        {
            self.pending_key = None;
            self.key = tag;
            self.reboot(now);
        }
        if let Some(until) = self.rebooting_until
            && until <= now
        {
            self.come_up(now);
        }
        if let Some(at) = self.next_beacon
            && at <= now
        {
            self.next_beacon = Some(now + self.config.beacon_interval);
            self.emit_at(
                now,
                ModemOutput::ToLine(LineFrame::Beacon {
                    cco: self.config.mac,
                    nid: self.key.nid,
                }),
            );
        }
        if let Association::Joining { cco, done_at } = self.association
            && done_at <= now
            && !self.config.join_never_completes
        {
            let tag = self.key;
            self.emit_at(
                now,
                ModemOutput::ToLine(LineFrame::JoinRequest {
                    station: self.config.mac,
                    cco,
                    tag,
                }),
            );
            // Wait for the confirm; searching again if the CCo refuses is not modelled.
            self.association = Association::Joining {
                cco,
                done_at: Instant::from_micros(i64::MAX),
            };
        }
    }

    /// The next output due at `now`, in the order it was produced.
    pub fn poll_output(&mut self, now: Instant) -> Option<ModemOutput> {
        let index = self
            .outputs
            .iter()
            .enumerate()
            .filter(|(_, (at, ..))| *at <= now)
            .min_by_key(|(_, (at, seq, _))| (*at, *seq))
            .map(|(i, _)| i)?;
        Some(self.outputs.swap_remove(index).2)
    }

    /// A frame from the host side of the modem (its Ethernet port).
    pub fn handle_host_frame(&mut self, now: Instant, bytes: &[u8]) {
        if self.config.absent || self.is_rebooting(now) || bytes.len() < 14 {
            return;
        }
        let mut source = [0u8; 6];
        source.copy_from_slice(&bytes[6..12]);
        let source = MacAddress(source);
        if !source.is_group() {
            self.host_macs.insert(source);
        }
        let mut destination = [0u8; 6];
        destination.copy_from_slice(&bytes[0..6]);
        let destination = MacAddress(destination);
        let for_modem = destination == MacAddress::QCA_LOCALCAST || destination == self.config.mac;
        if let Ok(frame) = MmeFrame::parse(bytes)
            && (for_modem || destination.is_broadcast())
            && self.handle_management(now, &frame, true)
        {
            if for_modem {
                return;
            }
        } else if for_modem {
            // Addressed to the modem but nothing it answers: silently dropped, like the
            // real device.
            return;
        }
        let avln = self.avln();
        self.emit_at(
            now,
            ModemOutput::ToLine(LineFrame::Data {
                from_modem: self.config.mac,
                avln,
                frame: bytes.to_vec(),
            }),
        );
    }

    /// Answers a management MME; returns false if it is not one the modem handles. `local` is
    /// true for requests from its own host.
    fn handle_management(&mut self, now: Instant, frame: &MmeFrame, local: bool) -> bool {
        let host = frame.source;
        match &frame.body {
            Mme::SwVerReq => {
                let device_class = match self.config.flavour {
                    ChipFlavour::TpLinkQca7420 => DEVICE_CLASS_QCA7420,
                    ChipFlavour::Qca7000 => DEVICE_CLASS_QCA7000,
                };
                let cnf = SwVerCnf {
                    status: 0,
                    device_class,
                    version: self.config.firmware.clone(),
                    trailing: Vec::new(),
                };
                self.reply(now, host, local, Mme::SwVerCnf(cnf));
            }
            Mme::SetKeyReq(req) if local => self.on_set_key(now, host, req),
            Mme::GetKeyReq(req) => self.on_get_key(now, host, req, local),
            Mme::PlLinkStatusReq if local => {
                let cnf = PlLinkStatusCnf {
                    status: 0,
                    link_status: u8::from(self.link_up()),
                };
                self.answer(now, host, Mme::PlLinkStatusCnf(cnf));
            }
            Mme::NwInfoReq if local => {
                let networks = match &self.association {
                    Association::Cco { .. } => vec![self.network_info(1, STATION_ROLE_CCO)],
                    Association::Member { .. } => vec![self.network_info(2, STATION_ROLE_STA)],
                    _ => Vec::new(),
                };
                self.answer(now, host, Mme::NwInfoCnf(NwInfoCnf { networks }));
            }
            Mme::RsDevReq if local => {
                self.answer(now, host, Mme::RsDevCnf(RsDevCnf { status: 0 }));
                let at = now + self.config.response_delay;
                self.pending_key = Some((self.key, at));
            }
            _ => return false,
        }
        true
    }

    /// Local requests are answered to the host; requests that came over the line are answered
    /// over the line (bridged back to the asking host).
    fn reply(&mut self, now: Instant, host: MacAddress, local: bool, body: Mme) {
        if local {
            self.answer(now, host, body);
        } else if let Some(avln) = self.avln() {
            let frame = MmeFrame::new(host, self.config.mac, body).emit();
            self.emit_at(
                now + self.config.response_delay,
                ModemOutput::ToLine(LineFrame::Data {
                    from_modem: self.config.mac,
                    avln: Some(avln),
                    frame,
                }),
            );
        }
    }

    fn network_info(&self, tei: u8, station_role: u8) -> NetworkInfo {
        let cco_mac = match &self.association {
            Association::Member { cco } => *cco,
            _ => self.config.mac,
        };
        NetworkInfo {
            nid: self.key.nid,
            snid: 1,
            tei,
            station_role,
            cco_mac,
            access: 0,
            num_coord_networks: 0,
        }
    }

    fn on_set_key(&mut self, now: Instant, host: MacAddress, req: &SetKeyReq) {
        let result = self.config.set_key_result;
        let mut my_nonce = [0u8; 4];
        self.rng.fill_bytes(&mut my_nonce);
        let cnf = SetKeyCnf {
            result,
            my_nonce,
            your_nonce: req.my_nonce,
            pid: PID_HLE,
            prn: 0,
            pmn: 0xff,
            cco_capability: 0,
        };
        self.answer(now, host, Mme::SetKeyCnf(cnf));
        if result == SET_KEY_RESULT_QCA_ACCEPTED {
            // The old key stays in effect for key_apply_delay, then the modem reboots.
            let tag = AvlnTag {
                nid: req.nid,
                nmk: req.new_key,
            };
            self.pending_key = Some((tag, now + self.config.key_apply_delay));
        }
    }

    fn on_get_key(&mut self, now: Instant, host: MacAddress, req: &GetKeyReq, local: bool) {
        // Granted only with the right NID, but the current NID is always reported; remote
        // modems answer a broadcast request with "refused" (pyPLC counts them).
        let granted = local && req.nid == self.key.nid;
        let mut my_nonce = [0u8; 4];
        self.rng.fill_bytes(&mut my_nonce);
        let cnf = GetKeyCnf {
            result: if granted {
                GET_KEY_RESULT_GRANTED
            } else {
                GET_KEY_RESULT_REFUSED
            },
            key_type: req.requested_key_type,
            my_nonce,
            your_nonce: req.my_nonce,
            nid: self.key.nid,
            eks: 0x01,
            pid: PID_HLE,
            prn: 0,
            pmn: 0xff,
            key: granted.then_some(self.key.nmk),
        };
        self.reply(now, host, local, Mme::GetKeyCnf(cnf));
    }

    /// A frame from the powerline, with the attenuation of the link it came over.
    pub fn handle_line_frame(&mut self, now: Instant, frame: &LineFrame, attenuation_db: u8) {
        if self.config.absent || self.is_rebooting(now) {
            return;
        }
        match frame {
            LineFrame::Data { avln, frame, .. } => {
                self.on_line_data(now, *avln, frame, attenuation_db)
            }
            LineFrame::Beacon { cco, nid } => {
                if self.config.role == ModemRole::Pev
                    && self.association == Association::None
                    && *nid == self.key.nid
                {
                    self.association = Association::Joining {
                        cco: *cco,
                        done_at: now + self.config.join_delay,
                    };
                }
            }
            LineFrame::JoinRequest { station, cco, tag } => {
                if *cco == self.config.mac
                    && *tag == self.key
                    && let Association::Cco { members } = &mut self.association
                {
                    members.insert(*station);
                    let confirm = LineFrame::JoinConfirm {
                        cco: *cco,
                        station: *station,
                    };
                    self.emit_at(now, ModemOutput::ToLine(confirm));
                }
            }
            LineFrame::JoinConfirm { cco, station } => {
                if *station == self.config.mac
                    && matches!(self.association, Association::Joining { cco: c, .. } if c == *cco)
                {
                    self.association = Association::Member { cco: *cco };
                }
            }
            LineFrame::Leave { station } => {
                if let Association::Cco { members } = &mut self.association {
                    members.remove(station);
                }
            }
            LineFrame::NetworkGone { cco } => {
                if matches!(&self.association, Association::Member { cco: c } | Association::Joining { cco: c, .. } if c == cco)
                {
                    self.association = Association::None;
                }
            }
        }
    }

    fn on_line_data(
        &mut self,
        now: Instant,
        avln: Option<AvlnTag>,
        bytes: &[u8],
        attenuation_db: u8,
    ) {
        let parsed = MmeFrame::parse(bytes).ok();
        let mmtype = parsed.as_ref().map(MmeFrame::mmtype);
        let same_avln = avln.is_some() && avln == self.avln();
        // Before an AVLN exists only SLAC MMEs (and the broadcast 0xA14E) cross the line.
        let slac = mmtype.is_some_and(|t| t.is_slac() || t == MmType::VsAttenCharInd);
        if !slac && !same_avln {
            return;
        }
        let Some(destination) = bytes.get(0..6).and_then(|d| <[u8; 6]>::try_from(d).ok()) else {
            return;
        };
        let destination = MacAddress(destination);
        if let Some(frame) = &parsed
            && same_avln
            && destination.is_broadcast()
        {
            // A broadcast management request from a host in our AVLN: answer it too.
            self.handle_management(now, frame, false);
        }
        // Unicast only to the hosts behind this modem; foreign unicast is hidden (unless the
        // knobs for a listener's modem say otherwise).
        let foreign_visible = if slac && !same_avln {
            self.config.forward_foreign_slac
        } else {
            self.config.forward_foreign_unicast
        };
        if destination.is_group() || self.host_macs.contains(&destination) || foreign_visible {
            self.emit_at(now, ModemOutput::ToHost(bytes.to_vec()));
        }
        if self.config.role == ModemRole::Evse
            && let Some(frame) = &parsed
            && let Mme::MnbcSoundInd(_) = frame.body
        {
            self.measure_sound(now, frame.source, attenuation_db);
        }
    }

    /// CM_ATTEN_PROFILE.IND and its 0xA14E twin for a received sound.
    fn measure_sound(&mut self, now: Instant, pev_mac: MacAddress, attenuation_db: u8) {
        let groups: Vec<u8> = match self.config.flavour {
            ChipFlavour::TpLinkQca7420 => Vec::new(),
            ChipFlavour::Qca7000 => {
                let noise = u32::from(self.config.profile_noise_db);
                (0..ATTEN_GROUPS)
                    .map(|_| {
                        let spread = self.rng.next_u32() % (2 * noise + 1);
                        let value =
                            i64::from(attenuation_db) + i64::from(spread) - i64::from(noise);
                        u8::try_from(value.clamp(0, 255)).unwrap_or(u8::MAX)
                    })
                    .collect()
            }
        };
        let at = now + self.config.profile_delay;
        let profile = MmeFrame::new(
            MacAddress::BROADCAST,
            self.config.mac,
            Mme::AttenProfileInd(AttenProfileInd {
                pev_mac,
                reserved: 0,
                groups: groups.clone(),
            }),
        );
        self.emit_at(at, ModemOutput::ToHost(profile.emit()));
        let mut twin = MmeFrame::new(
            MacAddress::BROADCAST,
            self.config.mac,
            Mme::VsAttenCharInd(VsAttenCharInd {
                pev_mac,
                unknown: VsAttenCharInd::UNKNOWN_AS_SEEN,
                groups,
            }),
        );
        twin.header.oui = self.config.atten_char_oui;
        let twin = twin.emit();
        self.emit_at(at, ModemOutput::ToHost(twin.clone()));
        // Broadcast: the EV (and neighbours) see it over the line too.
        let avln = self.avln();
        self.emit_at(
            at,
            ModemOutput::ToLine(LineFrame::Data {
                from_modem: self.config.mac,
                avln,
                frame: twin,
            }),
        );
    }
}
