//! What is wrong with a scenario file, said with the file, line and column, rendered by miette.
//!
//! Validation collects every problem it can find rather than stopping at the first, so that a
//! user fixes a file in one pass. Each [`Problem`] points at the offending text; rendering shows
//! it as `╭─[file:line:column]` with the line underlined, a label, and a hint where there is one.

use std::{fmt, ops::Range, sync::Arc};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Problem {
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where (byte range in the file).
    pub span: Range<usize>,
    /// A short note at the underlined text.
    pub label: String,
    /// How to fix it, when there is something to say.
    pub help: Option<String>,
    /// Other places that explain the problem (the other environment using a detector, …).
    pub related: Vec<(Range<usize>, String)>,
}

impl Problem {
    /// A problem at `span`.
    pub fn new(span: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds another place to show.
    pub fn also(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }
}

impl Diagnostic for Problem {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let main = LabeledSpan::new_primary_with_span(
            Some(self.label.clone()),
            SourceSpan::from(self.span.clone()),
        );
        let related = self.related.iter().map(|(span, label)| {
            LabeledSpan::new_with_span(Some(label.clone()), SourceSpan::from(span.clone()))
        });
        Some(Box::new(std::iter::once(main).chain(related)))
    }
}

/// A scenario file with everything wrong with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{name} is not a valid scenario: {} problem{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" })]
pub struct InvalidScenario {
    /// The file's name as given.
    pub name: String,
    /// The file's text.
    pub text: Arc<String>,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl InvalidScenario {
    /// Every problem as miette renders it, one after the other; `color` for a terminal.
    pub fn render(&self, color: bool, width: usize) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(width)
            .with_links(false);
        let mut out = String::new();
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let report = miette::Report::new(problem.clone())
                .with_source_code(NamedSource::new(&self.name, self.text.as_ref().clone()));
            // Rendering into a String cannot fail; if it ever does, fall back to the plain message.
            if handler.render_report(&mut out, report.as_ref()).is_err() {
                out.push_str(&format!("{}: {}\n", self.name, problem.message));
            }
        }
        out
    }

    /// The first problem's line and column (1-based), for a one-line summary.
    pub fn first_position(&self) -> Option<(usize, usize)> {
        self.problems
            .first()
            .map(|p| line_column(&self.text, p.span.start))
    }
}

/// Where each line of a text starts, so that the line of an offset costs a binary search, not
/// a count from the start of the file: validation asks for the line of every step, and a
/// generated timeline has hundreds of thousands of them.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// The byte offset of each line's first byte; the first is 0.
    starts: Vec<usize>,
}

impl LineIndex {
    /// The index of `text`'s lines.
    pub fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        Self { starts }
    }

    /// The 1-based line of byte `offset` (as [`line_column`] counts it).
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_index_agrees_with_counting() {
        for text in ["", "a", "a\n", "a = 1\nbb = 2\n", "\n\nx\n\n", "é\nü\n"] {
            let index = LineIndex::new(text);
            // Spans start on characters; line_column slices there.
            let starts = (0..=text.len() + 2).filter(|&o| text.is_char_boundary(o.min(text.len())));
            for offset in starts {
                assert_eq!(
                    index.line(offset),
                    line_column(text, offset).0,
                    "{text:?} at {offset}"
                );
            }
        }
    }

    #[test]
    fn positions_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 9), (2, 4));
        assert_eq!(line_column(text, 999), (3, 1));
    }

    #[test]
    fn rendering_names_the_file_line_and_column_and_the_hint() {
        let invalid = InvalidScenario {
            name: "scenarios/x.toml".into(),
            text: Arc::new("[scenario]\nnmae = \"x\"\n".into()),
            problems: vec![
                Problem::new(11..15, "unknown key `nmae`", "not a key of [scenario]")
                    .help("did you mean `name`?"),
            ],
        };
        let rendered = invalid.render(false, 80);
        assert!(rendered.contains("scenarios/x.toml:2:1"), "{rendered}");
        assert!(
            rendered.contains("unknown key `nmae`") && rendered.contains("did you mean `name`?"),
            "{rendered}"
        );
        assert_eq!(
            invalid.to_string(),
            "scenarios/x.toml is not a valid scenario: 1 problem"
        );
        assert_eq!(invalid.first_position(), Some((2, 1)));
    }
}
