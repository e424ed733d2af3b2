//! MLflow's search grammar: `clause (AND clause)*`, each clause `identifier operator value`, and
//! `identifier [ASC|DESC]` for ordering. Identifiers name an entity and a key (`metrics.acc`,
//! ``params.`learning rate` ``, `tags."mlflow.runName"`, `attributes.status`); keys without a
//! prefix are attributes. Errors carry the 1-based character position they were found at.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Metric,
    Param,
    Tag,
    Attribute,
    Dataset,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub entity: Entity,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Op {
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Like => "LIKE",
            Op::ILike => "ILIKE",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::IsNull => "IS NULL",
            Op::IsNotNull => "IS NOT NULL",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Ge | Op::Lt | Op::Le)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Str(String),
    List(Vec<String>),
    /// For `IS NULL` and `IS NOT NULL`.
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub key: Key,
    pub op: Op,
    pub value: Value,
    /// Where the clause starts (1-based), for errors found later.
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub key: Key,
    pub ascending: bool,
    pub position: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FilterError {
    /// 1-based character position; the length of the input plus one at its end.
    pub position: usize,
    pub message: String,
}

impl FilterError {
    pub fn at(position: usize, message: impl Into<String>) -> Self {
        Self { position, message: message.into() }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid search expression at position {}: {}", self.position, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    /// `` `quoted identifier` ``
    Quoted(String),
    Str(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(word) => write!(f, "`{word}`"),
            Token::Quoted(name) => write!(f, "`{name}`"),
            Token::Str(text) => write!(f, "'{text}'"),
            Token::Number(number) => write!(f, "{number}"),
            Token::Op(op) => write!(f, "`{op}`"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
        }
    }
}

/// A token, where it starts (1-based) and whether whitespace came right before it.
#[derive(Debug, Clone)]
struct Spanned {
    token: Token,
    position: usize,
    spaced: bool,
}

fn tokenize(input: &str) -> Result<Vec<Spanned>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let (token, next) = match c {
            '(' => (Token::Open, i + 1),
            ')' => (Token::Close, i + 1),
            ',' => (Token::Comma, i + 1),
            '\'' | '"' | '`' => {
                let (text, next) = quoted(&chars, i)?;
                (if c == '`' { Token::Quoted(text) } else { Token::Str(text) }, next)
            }
            '!' | '<' | '>' | '=' => {
                let pair: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                match pair.as_str() {
                    "!=" | "<>" => (Token::Op("!="), i + 2),
                    ">=" => (Token::Op(">="), i + 2),
                    "<=" => (Token::Op("<="), i + 2),
                    "==" => (Token::Op("="), i + 2),
                    _ if c == '!' => return Err(FilterError::at(position, "`!` must be followed by `=`")),
                    _ => (
                        Token::Op(match c {
                            '<' => "<",
                            '>' => ">",
                            _ => "=",
                        }),
                        i + 1,
                    ),
                }
            }
            c if c.is_ascii_digit() || ((c == '-' || c == '+' || c == '.') && starts_number(&chars, i)) => {
                let mut end = i + 1;
                while end < chars.len()
                    && (chars[end].is_ascii_alphanumeric()
                        || chars[end] == '.'
                        || ((chars[end] == '-' || chars[end] == '+') && matches!(chars[end - 1], 'e' | 'E')))
                {
                    end += 1;
                }
                let text: String = chars[i..end].iter().collect();
                let number = text
                    .parse::<f64>()
                    .map_err(|_| FilterError::at(position, format!("`{text}` is not a number")))?;
                (Token::Number(number), end)
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut end = i + 1;
                while end < chars.len()
                    && (chars[end].is_alphanumeric() || matches!(chars[end], '_' | '.' | '-' | '/' | ':'))
                {
                    end += 1;
                }
                (Token::Word(chars[i..end].iter().collect()), end)
            }
            other => return Err(FilterError::at(position, format!("unexpected character `{other}`"))),
        };
        tokens.push(Spanned { token, position, spaced });
        spaced = false;
        i = next;
    }
    Ok(tokens)
}

fn starts_number(chars: &[char], i: usize) -> bool {
    let rest = &chars[i + 1..];
    match rest.first() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars[i] != '.' && rest.get(1).is_some_and(char::is_ascii_digit),
        _ => false,
    }
}

/// A quoted string starting at `chars[start]`; a doubled quote or a backslash escapes one.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), FilterError> {
    let quote = chars[start];
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            text.push(chars[i + 1]);
            i += 2;
        } else if c == quote && chars.get(i + 1) == Some(&quote) {
            text.push(quote);
            i += 2;
        } else if c == quote {
            return Ok((text, i + 1));
        } else {
            text.push(c);
            i += 1;
        }
    }
    Err(FilterError::at(start + 1, format!("unterminated {quote}quoted{quote} text")))
}

struct Parser {
    tokens: Vec<Spanned>,
    next: usize,
    end: usize,
}

impl Parser {
    fn new(input: &str) -> Result<Self, FilterError> {
        Ok(Self { tokens: tokenize(input)?, next: 0, end: input.chars().count() + 1 })
    }

    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.next)
    }

    fn position(&self) -> usize {
        self.peek().map_or(self.end, |spanned| spanned.position)
    }

    fn take(&mut self) -> Option<Spanned> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn expected(&self, what: &str) -> FilterError {
        match self.peek() {
            Some(spanned) => {
                FilterError::at(spanned.position, format!("expected {what}, found {}", spanned.token))
            }
            None => FilterError::at(self.end, format!("expected {what}, found the end")),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        let found = matches!(self.peek(), Some(Spanned { token: Token::Word(w), .. }) if w.eq_ignore_ascii_case(word));
        if found {
            self.next += 1;
        }
        found
    }

    fn key(&mut self) -> Result<(Key, usize), FilterError> {
        let position = self.position();
        let Some(first) = self.take() else {
            return Err(FilterError::at(position, "expected a key such as metrics.accuracy, found the end"));
        };
        let (prefix, name) = match first.token {
            Token::Word(word) => match word.split_once('.') {
                Some((prefix, "")) => {
                    // `metrics.` followed directly by a quoted key.
                    let quoted = self.peek().filter(|next| !next.spaced).map(|next| next.token.clone());
                    match quoted {
                        Some(Token::Quoted(name) | Token::Str(name)) => {
                            self.next += 1;
                            (Some(prefix.to_owned()), name)
                        }
                        _ => {
                            return Err(FilterError::at(
                                position,
                                format!("`{word}` needs a key after the dot"),
                            ));
                        }
                    }
                }
                Some((prefix, name)) => (Some(prefix.to_owned()), name.to_owned()),
                None if is_keyword(&word) => {
                    return Err(FilterError::at(
                        position,
                        format!("expected a key, found the keyword `{word}`"),
                    ));
                }
                None => (None, word),
            },
            Token::Quoted(name) => (None, name),
            other => {
                return Err(FilterError::at(
                    position,
                    format!("expected a key such as metrics.accuracy, found {other}"),
                ));
            }
        };
        let entity = match prefix.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("attribute" | "attributes" | "attr" | "run") => Entity::Attribute,
            Some("metric" | "metrics") => Entity::Metric,
            Some("param" | "params" | "parameter" | "parameters") => Entity::Param,
            Some("tag" | "tags") => Entity::Tag,
            Some("dataset" | "datasets") => Entity::Dataset,
            Some(other) => {
                return Err(FilterError::at(
                    position,
                    format!("unknown entity `{other}`; use metrics., params., tags. or attributes."),
                ));
            }
        };
        if name.is_empty() {
            return Err(FilterError::at(position, "the key is empty"));
        }
        Ok((Key { entity, name }, position))
    }

    fn op(&mut self) -> Result<Op, FilterError> {
        if let Some(Spanned { token: Token::Op(op), .. }) = self.peek() {
            let op = match *op {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                ">" => Op::Gt,
                ">=" => Op::Ge,
                "<" => Op::Lt,
                _ => Op::Le,
            };
            self.next += 1;
            return Ok(op);
        }
        if self.keyword("LIKE") {
            return Ok(Op::Like);
        }
        if self.keyword("ILIKE") {
            return Ok(Op::ILike);
        }
        if self.keyword("IN") {
            return Ok(Op::In);
        }
        if self.keyword("NOT") {
            if self.keyword("IN") {
                return Ok(Op::NotIn);
            }
            return Err(self.expected("IN after NOT"));
        }
        if self.keyword("IS") {
            let negated = self.keyword("NOT");
            if self.keyword("NULL") {
                return Ok(if negated { Op::IsNotNull } else { Op::IsNull });
            }
            return Err(self.expected("NULL"));
        }
        Err(self.expected("a comparison (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL)"))
    }

    fn value(&mut self, op: Op) -> Result<Value, FilterError> {
        if matches!(op, Op::IsNull | Op::IsNotNull) {
            return Ok(Value::Nothing);
        }
        if matches!(op, Op::In | Op::NotIn) {
            if !matches!(self.take().map(|t| t.token), Some(Token::Open)) {
                self.next -= 1;
                return Err(self.expected("`(` starting a list of quoted values"));
            }
            let mut items = Vec::new();
            loop {
                match self.take().map(|t| t.token) {
                    Some(Token::Str(text)) => items.push(text),
                    _ => {
                        self.next -= 1;
                        return Err(self.expected("a quoted value"));
                    }
                }
                match self.take().map(|t| t.token) {
                    Some(Token::Comma) => {}
                    Some(Token::Close) => return Ok(Value::List(items)),
                    _ => {
                        self.next -= 1;
                        return Err(self.expected("`,` or `)`"));
                    }
                }
            }
        }
        match self.take().map(|t| t.token) {
            Some(Token::Number(number)) => Ok(Value::Number(number)),
            Some(Token::Str(text)) => Ok(Value::Str(text)),
            _ => {
                self.next -= 1;
                Err(self.expected("a number or a quoted value"))
            }
        }
    }
}

fn is_keyword(word: &str) -> bool {
    ["AND", "OR", "LIKE", "ILIKE", "IN", "NOT", "IS", "NULL", "ASC", "DESC"]
        .iter()
        .any(|keyword| word.eq_ignore_ascii_case(keyword))
}

/// Parses a filter; an empty or blank one has no clauses.
pub fn parse_filter(input: &str) -> Result<Vec<Clause>, FilterError> {
    let mut parser = Parser::new(input)?;
    let mut clauses = Vec::new();
    if parser.peek().is_none() {
        return Ok(clauses);
    }
    loop {
        let (key, position) = parser.key()?;
        let op = parser.op()?;
        let value = parser.value(op)?;
        clauses.push(Clause { key, op, value, position });
        if parser.peek().is_none() {
            return Ok(clauses);
        }
        if parser.keyword("OR") {
            return Err(FilterError::at(
                parser.tokens[parser.next - 1].position,
                "OR is not supported; clauses can only be combined with AND",
            ));
        }
        if !parser.keyword("AND") {
            return Err(parser.expected("AND"));
        }
    }
}

/// Parses one `order_by` entry: a key, then optionally ASC or DESC.
pub fn parse_order_by(input: &str) -> Result<OrderBy, FilterError> {
    let mut parser = Parser::new(input)?;
    let (key, position) = parser.key()?;
    let ascending = if parser.keyword("DESC") {
        false
    } else {
        parser.keyword("ASC");
        true
    };
    if parser.peek().is_some() {
        return Err(parser.expected("ASC, DESC or the end"));
    }
    Ok(OrderBy { key, ascending, position })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(entity: Entity, name: &str) -> Key {
        Key { entity, name: name.to_owned() }
    }

    #[test]
    fn parses_mlflow_examples() {
        let clauses = parse_filter(
            "metrics.x > 0.9 AND params.lr = '0.1' and tags.`mlflow.runName` LIKE 'a%' AND attributes.status IN ('FINISHED', \"FAILED\")",
        )
        .unwrap();
        assert_eq!(clauses.len(), 4);
        assert_eq!(clauses[0].key, key(Entity::Metric, "x"));
        assert_eq!((clauses[0].op, &clauses[0].value), (Op::Gt, &Value::Number(0.9)));
        assert_eq!(clauses[1].key, key(Entity::Param, "lr"));
        assert_eq!(clauses[1].value, Value::Str("0.1".into()));
        assert_eq!(clauses[2].key, key(Entity::Tag, "mlflow.runName"));
        assert_eq!(clauses[2].op, Op::Like);
        assert_eq!(clauses[3].value, Value::List(vec!["FINISHED".into(), "FAILED".into()]));
        assert_eq!(clauses[3].position, 79);
    }

    #[test]
    fn keys_may_be_dotted_quoted_or_bare() {
        let clauses =
            parse_filter("metrics.val.loss <= -1e-3 AND metrics.\"my metric\" != 2 AND status = 'RUNNING'")
                .unwrap();
        assert_eq!(clauses[0].key, key(Entity::Metric, "val.loss"));
        assert_eq!(clauses[0].value, Value::Number(-0.001));
        assert_eq!(clauses[1].key, key(Entity::Metric, "my metric"));
        assert_eq!(clauses[1].op, Op::Ne);
        assert_eq!(clauses[2].key, key(Entity::Attribute, "status"));
        assert_eq!(parse_filter("tags.team IS NOT NULL").unwrap()[0].op, Op::IsNotNull);
        assert!(parse_filter("   ").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_position() {
        let error = parse_filter("metrics.x > 0.9 AND params.lr").unwrap_err();
        assert_eq!(error.position, 30);
        assert!(error.message.contains("expected a comparison"), "{error}");
        let error = parse_filter("metrics.x > 0.9 OR metrics.y < 1").unwrap_err();
        assert_eq!(error.position, 17);
        let error = parse_filter("metric.x > 'unterminated").unwrap_err();
        assert_eq!(error.position, 12);
        let error = parse_filter("foo.x = 1").unwrap_err();
        assert!(error.message.contains("unknown entity `foo`"), "{error}");
        let error = parse_filter("metrics.x > 1 metrics.y > 2").unwrap_err();
        assert_eq!((error.position, error.message.as_str()), (15, "expected AND, found `metrics.y`"));
        assert_eq!(parse_filter("metrics.x ! 1").unwrap_err().position, 11);
    }

    #[test]
    fn order_by() {
        let order = parse_order_by("metrics.`val loss` DESC").unwrap();
        assert_eq!((order.key, order.ascending), (key(Entity::Metric, "val loss"), false));
        assert!(parse_order_by("start_time").unwrap().ascending);
        assert!(parse_order_by("start_time sideways").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in "\\PC{0,60}") {
            let _ = parse_filter(&input);
            let _ = parse_order_by(&input);
        }
    }
}
