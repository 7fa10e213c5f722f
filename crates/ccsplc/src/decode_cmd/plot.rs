//! `--plot out.svg`: voltage and current (two y-axes) and SoC over time, the phases as
//! labelled bands. Hand-written SVG, no dependencies; it opens in any browser.

use core::fmt::Write as _;

use ccs_proto::session::{ChargingValues, Phase};

use super::values::{Band, Sample};

const WIDTH: f64 = 1280.0;
const HEIGHT: f64 = 760.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
/// Top of the plot area (below title and legend).
const TOP: f64 = 80.0;
/// The voltage/current panel.
const MAIN_BOTTOM: f64 = 520.0;
/// The SoC panel.
const SOC_TOP: f64 = 560.0;
const SOC_BOTTOM: f64 = 690.0;

/// One line of the plot.
struct Series {
    name: &'static str,
    color: &'static str,
    dash: &'static str,
    axis: Axis,
    value: fn(&ChargingValues) -> Option<f32>,
    /// A limit holds until the next message changes it: drawn as steps to the end.
    hold: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Axis {
    Voltage,
    Current,
    Soc,
}

const SERIES: [Series; 7] = [
    Series {
        name: "EVSEPresentVoltage",
        hold: false,
        color: "#1f5fb4",
        dash: "",
        axis: Axis::Voltage,
        value: |v| v.present_voltage,
    },
    Series {
        name: "EVTargetVoltage",
        hold: false,
        color: "#5aa5e8",
        dash: "7,4",
        axis: Axis::Voltage,
        value: |v| v.target_voltage,
    },
    Series {
        name: "EVSE max voltage",
        hold: true,
        color: "#1f5fb4",
        dash: "2,3",
        axis: Axis::Voltage,
        value: |v| v.evse_max_voltage,
    },
    Series {
        name: "EVSEPresentCurrent",
        hold: false,
        color: "#c62828",
        dash: "",
        axis: Axis::Current,
        value: |v| v.present_current,
    },
    Series {
        name: "EVTargetCurrent",
        hold: false,
        color: "#f08a5d",
        dash: "7,4",
        axis: Axis::Current,
        value: |v| v.target_current,
    },
    Series {
        name: "EVSE max current",
        hold: true,
        color: "#c62828",
        dash: "2,3",
        axis: Axis::Current,
        value: |v| v.evse_max_current,
    },
    Series {
        name: "SoC",
        hold: false,
        color: "#2e7d32",
        dash: "",
        axis: Axis::Soc,
        value: |v| v.soc,
    },
];

fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Handshake => "Handshake",
        Phase::SessionSetup => "SessionSetup",
        Phase::ServiceSelection => "Services",
        Phase::Authorization => "Authorization",
        Phase::ChargeParameterDiscovery => "ChargeParam",
        Phase::ConnectAndLock => "Connect+Lock",
        Phase::CableCheck => "CableCheck",
        Phase::PreCharge => "PreCharge",
        Phase::PowerDeliveryStart => "PowerDelivery on",
        Phase::Charging => "CurrentDemand",
        Phase::PowerDeliveryStop => "PowerDelivery off",
        Phase::WeldingDetection => "WeldingDetection",
        Phase::SessionStop => "SessionStop",
        Phase::SafeShutdown => "SafeShutdown",
        _ => "Finished",
    }
}

fn phase_color(p: Phase) -> &'static str {
    match p {
        Phase::Handshake | Phase::SessionSetup => "#eeeeee",
        Phase::ServiceSelection | Phase::Authorization => "#e3f2fd",
        Phase::ChargeParameterDiscovery => "#ede7f6",
        Phase::ConnectAndLock | Phase::CableCheck => "#fff8e1",
        Phase::PreCharge => "#fff3e0",
        Phase::PowerDeliveryStart | Phase::PowerDeliveryStop => "#fce4ec",
        Phase::Charging => "#e8f5e9",
        Phase::WeldingDetection => "#f3e5f5",
        _ => "#f5f5f5",
    }
}

/// A step of 1, 2 or 5 × 10^k that cuts `range` into about `count` parts.
fn nice_step(range: f64, count: f64) -> f64 {
    let raw = (range / count).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let scaled = raw / magnitude;
    let nice = if scaled <= 1.0 {
        1.0
    } else if scaled <= 2.0 {
        2.0
    } else if scaled <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// 0 up to a nice value above `max`.
fn axis_max(max: f64) -> (f64, f64) {
    let max = if max > 0.0 { max * 1.05 } else { 1.0 };
    let step = nice_step(max, 6.0);
    ((max / step).ceil() * step, step)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt_tick(v: f64, step: f64) -> String {
    // No "-0" from rounding.
    let v = if v.abs() < step / 1000.0 { 0.0 } else { v };
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Draws the samples; `title` is the capture's file name.
pub(crate) fn render(title: &str, samples: &[Sample], bands: &[Band]) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="26" font-size="18" font-weight="bold" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let plot_right = WIDTH - RIGHT;
    if samples.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" font-size="16" text-anchor="middle" fill="#555">no V2G messages in this capture</text></svg>"##,
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return svg;
    }

    // Time axis: the V2G part of the capture.
    let t_first = samples.first().map_or(0.0, |s| s.time);
    let t_last = samples.last().map_or(1.0, |s| s.time);
    let span = (t_last - t_first).max(1.0);
    let t0 = t_first - span * 0.01;
    let t1 = t_last + span * 0.01;
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0) * (plot_right - LEFT);

    let max_of = |axis: Axis| {
        SERIES
            .iter()
            .filter(|s| s.axis == axis)
            .flat_map(|s| samples.iter().filter_map(move |p| (s.value)(&p.values)))
            .map(f64::from)
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
    };
    let (u_max, u_step) = axis_max(max_of(Axis::Voltage));
    // The current axis has the same divisions as the voltage axis, with a nice step of its own.
    let divisions = (u_max / u_step).round().max(1.0);
    let i_step = nice_step(max_of(Axis::Current).max(1.0) * 1.05, divisions);
    let i_max = i_step * divisions;
    let y_main =
        |v: f64, max: f64| MAIN_BOTTOM - (v / max).clamp(-0.02, 1.02) * (MAIN_BOTTOM - TOP);
    let y_soc = |v: f64| SOC_BOTTOM - (v / 100.0).clamp(0.0, 1.02) * (SOC_BOTTOM - SOC_TOP);

    // Phase bands behind everything, across both panels.
    let mut last_label_x = f64::NEG_INFINITY;
    for b in bands {
        let (bx0, bx1) = (x(b.start), x(b.end).max(x(b.start) + 1.0));
        let _ = writeln!(
            svg,
            r#"<rect x="{bx0:.1}" y="{TOP}" width="{:.1}" height="{}" fill="{}"/>"#,
            bx1 - bx0,
            SOC_BOTTOM - TOP,
            phase_color(b.phase)
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{bx0:.1}" y1="{TOP}" x2="{bx0:.1}" y2="{SOC_BOTTOM}" stroke="#9e9e9e" stroke-width="0.6"/>"##
        );
    }
    // Labels after all bands (a later band would cover them), reading downwards from the top,
    // pushed right so they never overlap.
    for b in bands {
        let (bx0, bx1) = (x(b.start), x(b.end).max(x(b.start) + 1.0));
        let lx = ((bx0 + bx1) / 2.0).max(last_label_x + 13.0).max(bx0 + 10.0);
        if lx < plot_right {
            last_label_x = lx;
            let _ = writeln!(
                svg,
                r##"<text transform="translate({lx:.1},{}) rotate(90)" font-size="11" fill="#424242">{} {}</text>"##,
                TOP + 6.0,
                phase_name(b.phase),
                b.phase.checkpoint()
            );
        }
    }

    // Grid and axes of the main panel.
    let mut v = 0.0;
    while v <= u_max + 1e-9 {
        let y = y_main(v, u_max);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{plot_right}" y2="{y:.1}" stroke="#bdbdbd" stroke-width="0.5" stroke-dasharray="3,3"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="12" text-anchor="end" fill="#1f5fb4">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            fmt_tick(v, u_step)
        );
        // The current axis has the same number of divisions as the voltage axis.
        let iv = v / u_max * i_max;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="12" fill="#c62828">{}</text>"##,
            plot_right + 6.0,
            y + 4.0,
            fmt_tick(iv, i_step)
        );
        v += u_step;
    }
    let _ = writeln!(
        svg,
        r##"<text transform="translate(22,{}) rotate(-90)" font-size="13" text-anchor="middle" fill="#1f5fb4">voltage (V)</text>"##,
        (TOP + MAIN_BOTTOM) / 2.0
    );
    let _ = writeln!(
        svg,
        r##"<text transform="translate({},{}) rotate(90)" font-size="13" text-anchor="middle" fill="#c62828">current (A)</text>"##,
        WIDTH - 22.0,
        (TOP + MAIN_BOTTOM) / 2.0
    );
    // SoC panel grid.
    for soc in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_soc(soc);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{plot_right}" y2="{y:.1}" stroke="#bdbdbd" stroke-width="0.5" stroke-dasharray="3,3"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#2e7d32">{soc:.0}</text>"##,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<text transform="translate(22,{}) rotate(-90)" font-size="13" text-anchor="middle" fill="#2e7d32">SoC (%)</text>"##,
        (SOC_TOP + SOC_BOTTOM) / 2.0
    );
    // Time ticks under both panels.
    let t_step = nice_step(t1 - t0, 10.0);
    let mut t = (t0 / t_step).ceil() * t_step;
    while t <= t1 {
        let xt = x(t);
        for (top, bottom) in [(TOP, MAIN_BOTTOM), (SOC_TOP, SOC_BOTTOM)] {
            let _ = writeln!(
                svg,
                r##"<line x1="{xt:.1}" y1="{top}" x2="{xt:.1}" y2="{bottom}" stroke="#bdbdbd" stroke-width="0.5" stroke-dasharray="3,3"/>"##
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{xt:.1}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
            SOC_BOTTOM + 18.0,
            fmt_tick(t, t_step)
        );
        t += t_step;
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="13" text-anchor="middle">time since the start of the capture (s)</text>"#,
        (LEFT + plot_right) / 2.0,
        SOC_BOTTOM + 40.0
    );
    for (top, bottom) in [(TOP, MAIN_BOTTOM), (SOC_TOP, SOC_BOTTOM)] {
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{top}" width="{}" height="{}" fill="none" stroke="#424242" stroke-width="1"/>"##,
            plot_right - LEFT,
            bottom - top
        );
    }

    // The series, with a legend entry for those that have data.
    let mut legend_x = LEFT;
    for s in &SERIES {
        let all: Vec<(usize, f64, f64)> = samples
            .iter()
            .filter_map(|p| (s.value)(&p.values).map(|v| (p.session, p.time, f64::from(v))))
            .filter(|(_, _, v)| v.is_finite())
            .collect();
        if all.is_empty() {
            continue;
        }
        let y = |v: f64| match s.axis {
            Axis::Voltage => y_main(v, u_max),
            Axis::Current => y_main(v, i_max),
            Axis::Soc => y_soc(v),
        };
        let dash = if s.dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{}""#, s.dash)
        };
        // One line per session: nothing is drawn across the gap between sessions.
        let sessions: std::collections::BTreeSet<usize> = all.iter().map(|p| p.0).collect();
        for session in sessions {
            let points: Vec<(f64, f64)> = all
                .iter()
                .filter(|p| p.0 == session)
                .map(|&(_, t, v)| (t, v))
                .collect();
            let mut path: Vec<String> = Vec::new();
            for (n, &(t, v)) in points.iter().enumerate() {
                if s.hold && n > 0 {
                    // Step: the previous limit up to this message.
                    path.push(format!("{:.1},{:.1}", x(t), y(points[n - 1].1)));
                }
                path.push(format!("{:.1},{:.1}", x(t), y(v)));
            }
            if s.hold
                && let Some(&(_, v)) = points.last()
            {
                // Up to the last message of the session.
                let end = samples
                    .iter()
                    .filter(|p| p.session == session)
                    .map(|p| p.time)
                    .fold(t_first, f64::max);
                path.push(format!("{:.1},{:.1}", x(end), y(v)));
            }

            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}/>"#,
                path.join(" "),
                s.color
            );
            if points.len() < 40 && !s.hold {
                for &(t, v) in &points {
                    let _ = writeln!(
                        svg,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{}"/>"#,
                        x(t),
                        y(v),
                        s.color
                    );
                }
            }
        }
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x}" y1="52" x2="{}" y2="52" stroke="{}" stroke-width="2.5"{dash}/>"#,
            legend_x + 28.0,
            s.color
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="56" font-size="12">{}</text>"#,
            legend_x + 33.0,
            s.name
        );
        legend_x += 40.0 + 7.2 * s.name.len() as f64;
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(450.0, 6.0), 100.0);
        assert_eq!(nice_step(13.0, 10.0), 2.0);
        assert_eq!(axis_max(412.8), (500.0, 100.0));
        // 200 A on 5 divisions: steps of 50 A.
        assert_eq!(nice_step(210.0, 5.0), 50.0);
    }

    #[test]
    fn empty_and_escaped() {
        let svg = render("a<b>&c", &[], &[]);
        assert!(svg.contains("a&lt;b&gt;&amp;c"));
        assert!(svg.contains("no V2G messages"));
    }
}
