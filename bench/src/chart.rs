//! SVG charts (plotters, SVG backend only): MB/s per case and tool, and PeerDrop's resident
//! memory over the big-file transfer, for docs/BENCHMARKS.md.

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

use crate::report::CaseReport;

/// Colour of a tool's bars and lines (stable across charts).
fn colour(tool: &str) -> RGBColor {
    match tool {
        "tcp" => RGBColor(120, 120, 120),
        "peerdrop" => RGBColor(31, 119, 180),
        "wormhole" => RGBColor(255, 127, 14),
        _ => RGBColor(44, 160, 44),
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the chart: {e}")
}

/// One panel per case (each with its own MB/s scale: loopback and a 100 Mbit/s link differ
/// by 20×), one bar per tool, height = median end-to-end MB/s (the shaped case: data-phase
/// rate, what its utilisation is judged on), value and ratio to TCP on top.
pub fn throughput(cases: &[CaseReport], path: &Path) -> Result<()> {
    let cases: Vec<&CaseReport> = cases.iter().filter(|c| !c.runs.is_empty()).collect();
    let panels = cases.len().max(1);
    let root = SVGBackend::new(path, (300 * panels as u32 + 20, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            "PeerDrop vs raw TCP vs magic-wormhole: MB/s (median of runs)",
            ("sans-serif", 20),
        )
        .map_err(err)?;
    for (case, area) in cases.iter().zip(root.split_evenly((1, panels))) {
        let shaped = case.link_mbit.is_some();
        let bars: Vec<(&'static str, f64, String)> = case
            .summaries()
            .into_iter()
            .map(|s| {
                let v = if shaped { s.data_mb_s } else { s.mb_s };
                let note = match (s.utilization, s.ratio) {
                    (Some(u), _) => format!(" ({:.0}% of link)", u * 100.0),
                    (None, Some(r)) if s.tool != "tcp" => format!(" ({:.0}%)", r * 100.0),
                    _ => String::new(),
                };
                (s.tool, v, note)
            })
            .collect();
        let max = bars.iter().map(|b| b.1).fold(0.1f64, f64::max);
        let n = bars.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(
                format!(
                    "{} ({}){}",
                    case.name,
                    short(&case.what),
                    if shaped { ", data phase" } else { "" }
                ),
                ("sans-serif", 14),
            )
            .margin(10)
            .x_label_area_size(25)
            .y_label_area_size(45)
            .build_cartesian_2d(0.0..n, 0.0..max * 1.2)
            .map_err(err)?;
        let names: Vec<&'static str> = bars.iter().map(|b| b.0).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .x_labels(bars.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = (x - 0.5).round();
                if (x - 0.5 - i).abs() < 0.01 && i >= 0.0 {
                    names
                        .get(i as usize)
                        .map_or(String::new(), |s| s.to_string())
                } else {
                    String::new()
                }
            })
            .y_desc("MB/s")
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (tool, v, _))| {
                let x = i as f64;
                Rectangle::new([(x + 0.15, 0.0), (x + 0.85, *v)], colour(tool).filled())
            }))
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, note))| {
                Text::new(
                    format!("{}{note}", crate::report::rate(*v)),
                    (i as f64 + 0.15, v + max * 0.06),
                    ("sans-serif", 12).into_font(),
                )
            }))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// "one 1024 MiB file, loopback" → "1024 MiB"; keeps group labels short.
fn short(what: &str) -> String {
    let words: Vec<&str> = what.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == "MiB" || *w == "KiB") {
        if what.contains("files") {
            if let Some(n) = words.iter().position(|w| *w == "files") {
                return format!("{}×{} {}", words[n - 1], words[i - 1], words[i]);
            }
        }
        return format!("{} {}", words[i - 1], words[i]);
    }
    what.to_string()
}

/// Resident memory (MiB) of each peer over time, one line per peer and tool.
pub fn memory(series: &[(String, Vec<(f64, u64)>)], title: &str, path: &Path) -> Result<()> {
    let t_max = series
        .iter()
        .flat_map(|(_, s)| s.last().map(|(t, _)| *t))
        .fold(1.0f64, f64::max);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let m_max = series
        .iter()
        .flat_map(|(_, s)| s.iter().map(|(_, b)| mib(*b)))
        .fold(8.0f64, f64::max);
    let root = SVGBackend::new(path, (760, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..t_max, 0.0..m_max * 1.2)
        .map_err(err)?;
    chart
        .configure_mesh()
        .bold_line_style(RGBColor(225, 225, 225))
        .light_line_style(RGBColor(245, 245, 245))
        .x_desc("seconds since the sender started")
        .y_desc("RSS MiB")
        .draw()
        .map_err(err)?;
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(120, 120, 120),
        RGBColor(44, 160, 44),
    ];
    for (i, (label, points)) in series.iter().enumerate() {
        let c = palette[i % palette.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(t, b)| (*t, mib(*b))),
                c.stroke_width(2),
            ))
            .map_err(err)?
            .label(label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_labels() {
        assert_eq!(short("one 1024 MiB file, loopback"), "1024 MiB");
        assert_eq!(
            short("a folder of 10000 files × 4 KiB (100 per subfolder), loopback"),
            "10000×4 KiB"
        );
    }
}
