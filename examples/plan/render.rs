//! Aligned tables, with ANSI colour only on a terminal and without `NO_COLOR`.

use std::io::IsTerminal;

/// Colours, or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

/// A colour of a cell or a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    Bold,
    Green,
    Yellow,
    Red,
    Dim,
    Cyan,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Bold => "1",
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "31",
            Paint::Dim => "2",
            Paint::Cyan => "1;36",
        }
    }
}

impl Style {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty
    /// (<https://no-color.org>).
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// `text` in `paint`, or as is without colour.
    pub fn paint(self, paint: Paint, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("\x1b[{}m{text}\x1b[0m", paint.code())
        } else {
            text.to_owned()
        }
    }

    /// A section heading: `N. Title  note`.
    pub fn heading(self, number: usize, title: &str, note: &str) -> String {
        let mut line = self.paint(Paint::Cyan, &format!("{number}. {title}"));
        if !note.is_empty() {
            line.push_str("  ");
            line.push_str(&self.paint(Paint::Dim, note));
        }
        line.push('\n');
        line
    }
}

/// Columns aligned on the plain text; colour added after padding.
#[derive(Default)]
pub struct Table {
    headers: Vec<String>,
    /// Right-aligned columns.
    right: Vec<usize>,
    rows: Vec<Row>,
}

struct Row {
    cells: Vec<String>,
    paint: Option<Paint>,
}

impl Table {
    /// A table with these column headers (none: no header line).
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|&h| h.to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Right-aligns column `index`.
    #[must_use]
    pub fn right(mut self, index: usize) -> Self {
        self.right.push(index);
        self
    }

    /// Adds a row.
    pub fn row<S: Into<String>>(
        &mut self,
        cells: impl IntoIterator<Item = S>,
        paint: Option<Paint>,
    ) {
        self.rows.push(Row {
            cells: cells.into_iter().map(Into::into).collect(),
            paint,
        });
    }

    pub fn render(&self, style: Style) -> String {
        let columns = self
            .rows
            .iter()
            .map(|r| r.cells.len())
            .chain([self.headers.len()])
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; columns];
        for cells in self
            .rows
            .iter()
            .map(|r| &r.cells)
            .chain(std::iter::once(&self.headers))
        {
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut text = String::from("  ");
            for (index, width) in widths.iter().enumerate() {
                let cell = cells.get(index).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if index > 0 {
                    text.push_str("  ");
                }
                if self.right.contains(&index) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
            }
            text.trim_end().to_owned()
        };
        let mut out = String::new();
        if !self.headers.is_empty() {
            out.push_str(&style.paint(Paint::Bold, &line(&self.headers)));
            out.push('\n');
        }
        for row in &self.rows {
            let text = line(&row.cells);
            match row.paint {
                Some(paint) => out.push_str(&style.paint(paint, &text)),
                None => out.push_str(&text),
            }
            out.push('\n');
        }
        out
    }
}

/// `1234567` as `1,234,567`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
