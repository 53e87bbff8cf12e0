//! Compact tables for phones: columns aligned by display width (a Chinese character takes two
//! cells), so container names in any language line up.

use unicode_width::UnicodeWidthStr;

/// Renders rows under a header, padding each column to its widest cell. The last column is
/// not padded (no trailing spaces).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let cols = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i].saturating_sub(cell.width())));
            }
        }
        out
    };
    let mut out = vec![line(header.to_vec())];
    for row in rows {
        out.push(line(row.iter().take(cols).map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_display_width() {
        let rows = vec![
            vec!["数据库".to_string(), "up".to_string()],
            vec!["api".to_string(), "down".to_string()],
        ];
        let out = render(&["NAME", "STATE"], &rows);
        let col: Vec<usize> = out
            .iter()
            .map(|l| {
                let idx = l.find(['u', 'd', 'S']).unwrap_or(0);
                l[..idx].width()
            })
            .collect();
        assert_eq!(col[0], col[1]);
        assert_eq!(col[1], col[2]);
    }
}
