//! A [`Timeline`] as one self-contained HTML page: the lanes as SVG drawn here, the message
//! counts per topic, and the run's summary. No library, no network — a few inline lines of
//! script for the zoom: any browser opens it, a CI job keeps it as an artifact.
//!
//! Every drawn element carries what it shows in `data-` attributes and a `<title>` (the
//! browser's hover text), so that tests and people read the same thing.

use std::{collections::BTreeMap, fmt::Write as _};

use crate::timeline::{Lane, MarkKind, Timeline};

/// The drawing's width in pixels, and the left margin that holds the lane names.
const WIDTH: f64 = 1200.0;
const LEFT: f64 = 130.0;
const RIGHT: f64 = 10.0;
const AXIS: f64 = 24.0;
/// Past this many lanes, lanes are drawn thin and unnamed: the shape of the run, not each
/// environment, is what a person reads then.
const NAMED_LANES: usize = 200;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn color(state: &str) -> &'static str {
    match state {
        "PENDING" => "#fff59d",
        "STANDBY" => "#cfd8dc",
        "DEPLOYED" => "#90caf9",
        "CONFIGURED" => "#42a5f5",
        "RUNNING" => "#66bb6a",
        "ERROR" => "#ef5350",
        "DONE" => "#f5f5f5",
        _ => "#bdbdbd",
    }
}

/// Seconds as people write durations: 42s, 3m20s, 2h05m.
fn elapsed(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

struct Scale {
    start: i64,
    span: f64,
}

impl Scale {
    fn x(&self, at: i64) -> f64 {
        LEFT + ((at - self.start) as f64 / self.span) * (WIDTH - LEFT - RIGHT)
    }
}

/// The page: `title` on top, the timeline, the messages per topic, then `summary` (the run's
/// summary as the command line prints it) as preformatted text. `names` gives lanes the names
/// their environments have in the scenario, by environment id (the id stays in the hover text).
pub fn render(
    timeline: &Timeline,
    title: &str,
    summary: &str,
    names: &BTreeMap<String, String>,
) -> String {
    let scale = Scale {
        start: timeline.start,
        span: (timeline.end - timeline.start).max(1) as f64,
    };
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — ecsim report</title>\n\
         <style>body{{font:14px system-ui,sans-serif;margin:16px;color:#222}}\
         h1{{font-size:20px}}h2{{font-size:16px;margin-top:24px}}\
         .legend span{{display:inline-block;margin-right:12px}}\
         .legend i{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}}\
         svg text{{font:11px system-ui,sans-serif}}pre{{background:#fafafa;padding:8px;overflow:auto}}\
         table{{border-collapse:collapse}}td,th{{padding:2px 10px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style>\
         </head><body>\n<h1>{title}</h1>\n",
        title = escape(title)
    );
    let _ = writeln!(
        page,
        "<p>{} environment(s), {} run(s), simulated {} — from the first message to the last.</p>",
        timeline.lanes.len(),
        timeline.lanes.iter().map(|l| l.runs.len()).sum::<usize>(),
        elapsed(timeline.end - timeline.start)
    );
    legend(&mut page);
    lanes(&mut page, timeline, &scale, names);
    topics(&mut page, timeline);
    let _ = write!(
        page,
        "<h2>Summary</h2>\n<pre id=\"summary\">{}</pre>\n</body></html>\n",
        escape(summary)
    );
    page
}

fn legend(page: &mut String) {
    page.push_str("<p class=\"legend\">");
    for state in [
        "PENDING",
        "STANDBY",
        "DEPLOYED",
        "CONFIGURED",
        "RUNNING",
        "ERROR",
        "DONE",
    ] {
        let _ = write!(
            page,
            "<span><i style=\"background:{}\"></i>{state}</span>",
            color(state)
        );
    }
    page.push_str(
        "<span><i style=\"background:#1b5e20;height:5px\"></i>run</span>\
         <span><i style=\"background:#b71c1c;width:3px\"></i>failure</span>\
         <span><i style=\"background:#ef6c00;width:3px\"></i>core-initiated</span>\
         <span><i style=\"background:#78909c;width:2px\"></i>service operation</span></p>\n",
    );
}

fn lanes(page: &mut String, timeline: &Timeline, scale: &Scale, names: &BTreeMap<String, String>) {
    let named = timeline.lanes.len() <= NAMED_LANES;
    let lane_height = if named { 20.0 } else { 4.0 };
    let height = AXIS + lane_height * timeline.lanes.len() as f64 + 4.0;
    let _ = writeln!(
        page,
        "<h2>Environments</h2>\n<p id=\"zoom\">zoom the time axis: <button data-zoom=\"1\">×1</button> <button data-zoom=\"4\">×4</button> <button data-zoom=\"16\">×16</button> <button data-zoom=\"64\">×64</button> (scroll sideways to move along)</p>\n<div id=\"scroll\" style=\"overflow-x:auto\"><svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" data-start=\"{}\" data-end=\"{}\" data-left=\"{LEFT}\" data-plot=\"{}\" data-axis=\"{AXIS}\" data-lane=\"{lane_height}\">",
        timeline.start,
        timeline.end.max(timeline.start + 1),
        WIDTH - LEFT - RIGHT,
    );
    // The time axis: about ten ticks.
    let span_ms = timeline.end - timeline.start;
    let step = nice_step(span_ms / 10);
    let mut tick = 0;
    while tick <= span_ms {
        let x = scale.x(timeline.start + tick);
        let _ = writeln!(
            page,
            "<line class=\"tick\" data-at=\"{at}\" x1=\"{x:.1}\" y1=\"{AXIS}\" x2=\"{x:.1}\" y2=\"{height}\" stroke=\"#eee\"/><text data-at=\"{at}\" x=\"{x:.1}\" y=\"14\" text-anchor=\"middle\">{}</text>",
            elapsed(tick),
            at = timeline.start + tick
        );
        tick += step;
    }
    for (index, lane) in timeline.lanes.iter().enumerate() {
        let y = AXIS + lane_height * index as f64;
        let name = names.get(&lane.id).map_or(lane.id.as_str(), String::as_str);
        draw_lane(page, lane, name, y, lane_height, named, timeline.end, scale);
    }
    page.push_str("</svg></div>\n");
    page.push_str(ZOOM);
}

/// Zoom: every element placed in time carries its time (`data-from`/`data-to` for spans and
/// bars, `data-at` for marks, labels and ticks); the script places them again at a wider plot.
/// Inline, a few lines, no library: the file stays self-contained.
const ZOOM: &str = r##"<script>
"use strict";
(() => {
  const svg = document.getElementById("timeline"), d = svg.dataset;
  const base = +svg.getAttribute("width"), left = +d.left, plot0 = +d.plot;
  const start = +d.start, span = +d.end - start;
  function zoom(z) {
    const plot = plot0 * z, width = base + plot0 * (z - 1), x = t => left + (t - start) / span * plot;
    svg.setAttribute("width", width);
    svg.setAttribute("viewBox", `0 0 ${width} ${svg.viewBox.baseVal.height}`);
    d.plot = plot;
    for (const e of svg.querySelectorAll("rect[data-from]")) {
      e.setAttribute("x", x(+e.dataset.from));
      e.setAttribute("width", Math.max(+e.dataset.min || 0.5, x(+e.dataset.to) - x(+e.dataset.from)));
    }
    for (const e of svg.querySelectorAll("[data-at]")) {
      const at = x(+e.dataset.at) + (+e.dataset.dx || 0);
      if (e.tagName === "line") { e.setAttribute("x1", at); e.setAttribute("x2", at); }
      else e.setAttribute("x", at);
    }
  }
  for (const b of document.querySelectorAll("#zoom button")) b.onclick = () => zoom(+b.dataset.zoom);
  window.ecsimZoom = zoom;
})();
</script>
"##;

/// A round tick interval near `ms`: 1, 2 or 5 times a power of ten seconds, at least one.
fn nice_step(ms: i64) -> i64 {
    let mut unit = 1000;
    loop {
        for factor in [1, 2, 5] {
            if unit * factor >= ms {
                return unit * factor;
            }
        }
        unit *= 10;
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_lane(
    page: &mut String,
    lane: &Lane,
    name: &str,
    y: f64,
    height: f64,
    named: bool,
    end: i64,
    scale: &Scale,
) {
    let id = escape(&lane.id);
    let name = escape(name);
    let _ = write!(
        page,
        "<g class=\"lane\" data-environment=\"{id}\" data-name=\"{name}\">"
    );
    if named {
        let _ = write!(
            page,
            "<text x=\"4\" y=\"{:.1}\">{name}<title>{name}: environment {id}</title></text>",
            y + height * 0.7
        );
    }
    for (n, span) in lane.spans.iter().enumerate() {
        let to = lane.spans.get(n + 1).map_or(end, |next| next.from);
        let (x1, x2) = (scale.x(span.from), scale.x(to));
        let state = escape(&span.state);
        let _ = write!(
            page,
            "<rect class=\"state\" data-state=\"{state}\" data-from=\"{}\" data-to=\"{to}\" x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{name} {state} from {} to {}</title></rect>",
            span.from,
            y + 1.0,
            (x2 - x1).max(0.5),
            height - 2.0,
            color(&span.state),
            elapsed(span.from - scale.start),
            elapsed(to - scale.start),
        );
    }
    for run in &lane.runs {
        let to = run.to.unwrap_or(end);
        let (x1, x2) = (scale.x(run.from), scale.x(to));
        let _ = write!(
            page,
            "<g class=\"run\" data-run=\"{n}\" data-from=\"{}\" data-to=\"{to}\"><rect data-from=\"{from}\" data-to=\"{to}\" data-min=\"1\" x=\"{x1:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1b5e20\"><title>run {n}: {} to {}</title></rect>",
            run.from,
            y + height - 6.0_f64.min(height / 2.0) - 1.0,
            (x2 - x1).max(1.0),
            6.0_f64.min(height / 2.0),
            elapsed(run.from - scale.start),
            elapsed(to - scale.start),
            n = run.number,
            from = run.from,
        );
        if named && x2 - x1 > 40.0 {
            let _ = write!(
                page,
                "<text data-at=\"{}\" data-dx=\"3\" x=\"{:.1}\" y=\"{:.1}\" fill=\"#fff\">run {}</text>",
                run.from,
                x1 + 3.0,
                y + height * 0.55,
                run.number
            );
        }
        page.push_str("</g>");
    }
    for mark in &lane.marks {
        let x = scale.x(mark.at);
        let (class, color, width) = match mark.kind {
            MarkKind::Failure => ("failure", "#b71c1c", 3.0),
            MarkKind::Core => ("core", "#ef6c00", 3.0),
            MarkKind::Service => ("service", "#78909c", 1.0),
        };
        let _ = write!(
            page,
            "<rect class=\"mark {class}\" data-at=\"{}\" data-dx=\"{}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{width}\" height=\"{height}\" fill=\"{color}\"><title>{}: {}</title></rect>",
            mark.at,
            -width / 2.0,
            x - width / 2.0,
            elapsed(mark.at - scale.start),
            escape(&mark.text)
        );
    }
    page.push_str("</g>\n");
}

/// Messages per topic: the totals, and their spread over the run in up to 100 buckets.
fn topics(page: &mut String, timeline: &Timeline) {
    page.push_str("<h2>Messages per topic</h2>\n<table id=\"topics\"><tr><th>topic</th><th>messages</th><th>over the run</th></tr>\n");
    let seconds = ((timeline.end - timeline.start) / 1000 + 1).max(1);
    let buckets = seconds.min(100);
    for (topic, counts) in &timeline.per_topic {
        let total: u64 = counts.values().sum();
        let mut spread = vec![0u64; usize::try_from(buckets).unwrap_or(1)];
        for (second, count) in counts {
            let bucket = usize::try_from(second * buckets / seconds).unwrap_or(0);
            if let Some(slot) = spread.get_mut(bucket) {
                *slot += count;
            }
        }
        let peak = spread.iter().copied().max().unwrap_or(1).max(1);
        let mut bars = String::new();
        for (n, count) in spread.iter().enumerate() {
            let h = (*count as f64 / peak as f64) * 18.0;
            let _ = write!(
                bars,
                "<rect x=\"{}\" y=\"{:.1}\" width=\"2\" height=\"{h:.1}\" fill=\"#5c6bc0\"/>",
                n * 3,
                18.0 - h
            );
        }
        let _ = writeln!(
            page,
            "<tr data-topic=\"{t}\"><td>{t}</td><td>{total}</td><td><svg width=\"{}\" height=\"18\">{bars}</svg></td></tr>",
            buckets * 3,
            t = escape(topic)
        );
    }
    page.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Mark, RunBar, Span};

    fn timeline() -> Timeline {
        Timeline {
            start: 1_000,
            end: 61_000,
            lanes: vec![Lane {
                id: "2oDvieFrVTi".into(),
                spans: vec![
                    Span {
                        from: 1_000,
                        state: "CONFIGURED".into(),
                    },
                    Span {
                        from: 11_000,
                        state: "RUNNING".into(),
                    },
                    Span {
                        from: 41_000,
                        state: "ERROR".into(),
                    },
                ],
                runs: vec![RunBar {
                    number: 7,
                    from: 11_000,
                    to: Some(41_000),
                }],
                marks: vec![Mark {
                    at: 41_000,
                    kind: MarkKind::Failure,
                    text: "STOP_ACTIVITY: <dcs> refused".into(),
                }],
                ..Lane::default()
            }],
            per_topic: [("aliecs.run".to_owned(), [(0, 2), (40, 1)].into())].into(),
        }
    }

    #[test]
    fn lanes_runs_and_marks_are_drawn_with_what_they_show() {
        let names = [("2oDvieFrVTi".to_owned(), "physics".to_owned())].into();
        let page = render(&timeline(), "a & b", "summary <ok>", &names);
        assert!(page.contains(r#"data-environment="2oDvieFrVTi" data-name="physics""#));
        assert!(page.contains("<title>a &amp; b — ecsim report</title>"));
        assert!(page.contains(r#"data-state="RUNNING" data-from="11000" data-to="41000""#));
        assert!(page.contains(r#"<g class="run" data-run="7" data-from="11000" data-to="41000">"#));
        assert!(
            page.contains(">run 7</text>"),
            "the run's number is written on its bar"
        );
        assert!(
            page.contains("STOP_ACTIVITY: &lt;dcs&gt; refused"),
            "escaped hover text"
        );
        assert!(page.contains(r#"<tr data-topic="aliecs.run"><td>aliecs.run</td><td>3</td>"#));
        assert!(page.contains("summary &lt;ok&gt;"));
        assert!(!page.contains(" src="), "no script or image from elsewhere");
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(elapsed(42_000), "42s");
        assert_eq!(elapsed(200_000), "3m20s");
        assert_eq!(elapsed(7_500_000), "2h05m");
        assert_eq!(nice_step(0), 1000);
        assert_eq!(nice_step(4_200), 5000);
        assert_eq!(nice_step(130_000), 200_000);
    }
}
