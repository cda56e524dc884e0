//! Property filters: a campaign step's `keep: "MW <= 600 and cLogP <= 6 and HBD <= 5"`.
//!
//! Why a small language of its own: the predicate is validated with the campaign file (unknown
//! property, missing number, unbalanced parenthesis: one clear error before anything runs) and
//! evaluated once per product whose properties are computed, over six numbers; an embedded
//! expression crate would accept far more than these comparisons (strings, functions,
//! assignments) and spell `and` as `&&`.
//!
//! Grammar (keywords case-insensitive, properties as the export names them):
//!
//! ```text
//! expr   := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | "(" expr ")" | PROP OP NUMBER
//! PROP   := MW | TPSA | HBD | HBA | cLogP | RotB
//! OP     := < | <= | > | >= | == | !=
//! ```

use crate::store::Props;

/// A parsed `keep:` predicate over a product's properties (equal when written the same).
#[derive(Debug, Clone)]
pub struct Keep {
    text: String,
    expr: Expr,
}

impl PartialEq for Keep {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Keep {}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(Prop, Op, f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Prop {
    Mw,
    Tpsa,
    Hbd,
    Hba,
    Clogp,
    Rotb,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// The property names a predicate may use, as the export's columns name them.
pub const KEEP_PROPERTIES: [&str; 6] = ["MW", "TPSA", "HBD", "HBA", "cLogP", "RotB"];

impl Keep {
    /// Parses `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let mut p = Parser { tokens: &tokens, at: 0 };
        let expr = p.or()?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(format!("unexpected {t:?} after a complete predicate"));
        }
        Ok(Self { text: text.trim().to_owned(), expr })
    }

    /// The predicate as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a product with these properties is kept.
    pub fn keeps(&self, p: &Props) -> bool {
        eval(&self.expr, p)
    }
}

fn eval(e: &Expr, p: &Props) -> bool {
    match e {
        Expr::Or(a, b) => eval(a, p) || eval(b, p),
        Expr::And(a, b) => eval(a, p) && eval(b, p),
        Expr::Not(a) => !eval(a, p),
        Expr::Cmp(prop, op, v) => {
            let x = match prop {
                Prop::Mw => p.mw,
                Prop::Tpsa => p.tpsa,
                Prop::Hbd => f64::from(p.hbd),
                Prop::Hba => f64::from(p.hba),
                Prop::Clogp => p.clogp,
                Prop::Rotb => f64::from(p.rotb),
            };
            match op {
                Op::Lt => x < *v,
                Op::Le => x <= *v,
                Op::Gt => x > *v,
                Op::Ge => x >= *v,
                Op::Eq => x == *v,
                Op::Ne => x != *v,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Op(Op),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push(if c == '(' { Token::Open } else { Token::Close });
            i += 1;
        } else if let Some(op) = ["<=", ">=", "==", "!="].iter().position(|o| *o == two) {
            out.push(Token::Op([Op::Le, Op::Ge, Op::Eq, Op::Ne][op]));
            i += 2;
        } else if c == '<' || c == '>' {
            out.push(Token::Op(if c == '<' { Op::Lt } else { Op::Gt }));
            i += 1;
        } else if c.is_ascii_digit() || c == '-' || c == '.' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.' || chars[i] == '-') {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            out.push(Token::Number(s.parse().map_err(|_| format!("{s:?} is not a number"))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
}

impl Parser<'_> {
    fn keyword(&mut self, k: &str) -> bool {
        match self.tokens.get(self.at) {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(k) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        let next = self.tokens.get(self.at).cloned();
        self.at += 1;
        match next {
            Some(Token::Open) => {
                let e = self.or()?;
                match self.tokens.get(self.at) {
                    Some(Token::Close) => {
                        self.at += 1;
                        Ok(e)
                    }
                    _ => Err("a `(` is not closed".into()),
                }
            }
            Some(Token::Word(w)) => {
                let prop = match KEEP_PROPERTIES.iter().position(|p| p.eq_ignore_ascii_case(&w)) {
                    Some(k) => [Prop::Mw, Prop::Tpsa, Prop::Hbd, Prop::Hba, Prop::Clogp, Prop::Rotb][k],
                    None => {
                        return Err(format!("unknown property {w:?}; one of {}", KEEP_PROPERTIES.join(", ")));
                    }
                };
                let op = match self.tokens.get(self.at) {
                    Some(Token::Op(op)) => *op,
                    other => return Err(format!("a comparison (<, <=, >, >=, ==, !=) after {w}, found {other:?}")),
                };
                let value = match self.tokens.get(self.at + 1) {
                    Some(Token::Number(v)) => *v,
                    other => return Err(format!("a number after `{w} ...`, found {other:?}")),
                };
                self.at += 2;
                Ok(Expr::Cmp(prop, op, value))
            }
            other => Err(format!("a property, `not` or `(` expected, found {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(mw: f64, clogp: f64, hbd: u32) -> Props {
        Props { mw, tpsa: 40.0, hbd, hba: 3, clogp, rotb: 2 }
    }

    #[test]
    fn lipinski_like_predicates_keep_what_they_say() {
        let k = Keep::parse("MW <= 600 and cLogP <= 6 and HBD <= 5").unwrap();
        assert!(k.keeps(&props(600.0, 6.0, 5)));
        assert!(!k.keeps(&props(600.0001, 1.0, 0)));
        assert!(!k.keeps(&props(300.0, 6.5, 0)));
        assert!(!k.keeps(&props(300.0, 1.0, 6)));
        let k = Keep::parse("not (mw > 500 OR clogp >= -0.5) and rotb != 3").unwrap();
        assert!(k.keeps(&props(400.0, -1.0, 0)));
        assert!(!k.keeps(&props(400.0, 0.0, 0)));
        assert_eq!(k.text(), "not (mw > 500 OR clogp >= -0.5) and rotb != 3");
        // and binds tighter than or
        let k = Keep::parse("MW < 100 or MW > 200 and HBD == 0").unwrap();
        assert!(k.keeps(&props(50.0, 0.0, 3)) && !k.keeps(&props(300.0, 0.0, 3)) && k.keeps(&props(300.0, 0.0, 0)));
    }

    #[test]
    fn bad_predicates_say_what_is_wrong() {
        for (text, says) in [
            ("MW <= ", "a number after"),
            ("weight < 3", "unknown property"),
            ("(MW < 3", "not closed"),
            ("MW < 3 HBD < 2", "after a complete predicate"),
            ("MW = 3", "unexpected character"),
            ("MW < 1e", "not a number"),
            ("", "expected"),
        ] {
            let err = Keep::parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }
}
