//! How the car's session ends, the same for every protocol machine: the first failure starts
//! the safe shutdown and becomes the outcome; the power path's last step (unlocked, or the
//! connector stays locked) finishes the session.

use super::EvPowerPath;
use crate::session::outbox::Outbox;
use crate::session::{Outcome, SessionError, SessionEvent};

/// The failure that started the safe shutdown, or a refused SessionStop (the session ends
/// normally, contactors open, reported as its outcome).
#[derive(Clone, Debug, Default)]
pub(crate) struct EvEnding {
    failure: Option<SessionError>,
    refusal: Option<SessionError>,
}

impl EvEnding {
    /// Whether the safe shutdown has begun (or the failure was recorded while unlocking).
    pub(crate) fn is_failing(&self) -> bool {
        self.failure.is_some()
    }

    /// The charger refused SessionStop (or WeldingDetection): the outcome, unless a failure
    /// comes first.
    pub(crate) fn refused(&mut self, error: SessionError) {
        self.refusal = Some(error);
    }

    /// A failure from outside or of a step. Returns whether the machine starts the safe
    /// shutdown now (closes the connection, powers down with [`super::AfterOpen::Unlock`]).
    ///
    /// While the contactors are open and the unlock waits for the voltage, only the voltage
    /// decides the unlock: the charger closing the connection after SessionStop is expected
    /// and ignored, anything else (a hardware fault) becomes the outcome. Once failing,
    /// later errors go into the log on top of the first.
    pub(crate) fn fail(
        &mut self,
        out: &mut Outbox,
        power: &EvPowerPath,
        error: SessionError,
    ) -> bool {
        let connection_lost = matches!(error, SessionError::ConnectionLost(_));
        if self.failure.is_some() || power.is_unlocking() {
            if !connection_lost {
                out.event(SessionEvent::Failing(error.clone()));
                self.failure.get_or_insert(error);
            }
            return false;
        }
        out.event(SessionEvent::Failing(error.clone()));
        self.failure = Some(error);
        true
    }

    /// The connector is unlocked: the end of a normal stop (Completed, or Failed with the
    /// refusal), or of the safe shutdown (Failed with its failure).
    pub(crate) fn unlocked(&mut self, out: &mut Outbox) {
        match self.failure.clone().or_else(|| self.refusal.take()) {
            Some(e) => out.finish(Outcome::Failed(e)),
            None => out.finish(Outcome::Completed),
        }
    }

    /// The connector stays locked (the contactors never confirmed open, or the inlet stayed
    /// live): the session fails with `why`, or with the first failure and `why` on top in
    /// the log.
    pub(crate) fn stays_locked(&mut self, out: &mut Outbox, why: SessionError) {
        let failure = match &self.failure {
            Some(first) => {
                out.event(SessionEvent::Failing(why));
                first.clone()
            }
            None => why,
        };
        self.failure = Some(failure.clone());
        out.close();
        out.finish(Outcome::Failed(failure));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(out: &mut Outbox) -> Vec<SessionError> {
        let mut v = Vec::new();
        while let Some(e) = out.poll_event() {
            if let SessionEvent::Failing(e) = e {
                v.push(e);
            }
        }
        v
    }

    #[test]
    fn the_first_failure_is_the_outcome_later_ones_are_logged_on_top() {
        let mut out = Outbox::new();
        let power = EvPowerPath::default();
        let mut ending = EvEnding::default();
        let first = SessionError::Timeout("V2G_EVCC_Msg_Timeout");
        let second = SessionError::Physical("lock actuator".into());
        assert!(ending.fail(&mut out, &power, first.clone()));
        assert!(!ending.fail(&mut out, &power, second.clone()));
        // The hang-up that the safe shutdown itself causes is no news.
        assert!(!ending.fail(
            &mut out,
            &power,
            SessionError::ConnectionLost("closed".into())
        ));
        assert_eq!(failing(&mut out), [first.clone(), second]);
        ending.unlocked(&mut out);
        assert_eq!(out.outcome(), Some(&Outcome::Failed(first)));
    }

    #[test]
    fn a_refused_session_stop_is_the_outcome_of_a_normal_end() {
        let mut out = Outbox::new();
        let mut ending = EvEnding::default();
        let refusal = SessionError::PeerRefused("SessionStopRes: FAILED".into());
        ending.refused(refusal.clone());
        ending.unlocked(&mut out);
        assert_eq!(out.outcome(), Some(&Outcome::Failed(refusal)));
        // Staying locked outweighs the refusal.
        let mut out = Outbox::new();
        let mut ending = EvEnding::default();
        ending.refused(SessionError::PeerRefused("SessionStopRes: FAILED".into()));
        let why = SessionError::Physical("connector stays locked".into());
        ending.stays_locked(&mut out, why.clone());
        assert_eq!(out.outcome(), Some(&Outcome::Failed(why)));
    }
}
