//! The type check run when an expression is saved.
//!
//! It infers a type for every node from the declared variables and refuses, with the node's
//! position:
//! - identifiers that are neither declared, bound by a comprehension, nor a type name;
//! - functions the environment does not have, or that take another number of arguments;
//! - operators and functions applied to types no overload accepts (`1 + 'a'`, `'a' < 1`,
//!   `size(1)`), and field selection on a value that has no fields (`ctx.amount.x` where
//!   `amount` is declared an integer).
//!
//! `dyn` matches everything: where a schema leaves a type open, the check passes and the
//! evaluation decides, as in cel-go. The check never refuses an expression the interpreter
//! would evaluate without error for every input of the declared types.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators};

use super::Declarations;

/// The type of a CEL value as the checker sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprType {
    /// Any type; decided when evaluated.
    Dyn,
    /// `null_type`.
    Null,
    /// `bool`.
    Bool,
    /// `int` (64-bit signed).
    Int,
    /// `uint` (64-bit unsigned).
    Uint,
    /// `double`.
    Double,
    /// `string`.
    String,
    /// `bytes`.
    Bytes,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `google.protobuf.Duration`.
    Duration,
    /// A type value (`int`, `type(x)`).
    Type,
    /// `list(T)`.
    List(Box<ExprType>),
    /// `map(K, V)`.
    Map(Box<ExprType>, Box<ExprType>),
    /// `optional_type(T)`.
    Optional(Box<ExprType>),
    /// A JSON object with known fields (from a JSON Schema's `properties`); a `map(string, dyn)`
    /// at run time. `open` objects may hold other fields too.
    Object {
        /// The known fields and their types.
        fields: BTreeMap<String, ExprType>,
        /// Whether fields beyond `fields` may exist.
        open: bool,
    },
}

impl ExprType {
    /// `map(string, dyn)`: a JSON object with an open schema.
    pub fn json_object() -> Self {
        ExprType::Map(Box::new(ExprType::String), Box::new(ExprType::Dyn))
    }

    fn kind(&self) -> Kind {
        match self {
            ExprType::Dyn => Kind::Dyn,
            ExprType::Null => Kind::Null,
            ExprType::Bool => Kind::Bool,
            ExprType::Int => Kind::Int,
            ExprType::Uint => Kind::Uint,
            ExprType::Double => Kind::Double,
            ExprType::String => Kind::String,
            ExprType::Bytes => Kind::Bytes,
            ExprType::Timestamp => Kind::Timestamp,
            ExprType::Duration => Kind::Duration,
            ExprType::Type => Kind::Type,
            ExprType::List(_) => Kind::List,
            ExprType::Map(..) | ExprType::Object { .. } => Kind::Map,
            ExprType::Optional(_) => Kind::Optional,
        }
    }

    /// The type of both `self` and `other` (`dyn` when they differ).
    fn join(&self, other: &ExprType) -> ExprType {
        if self == other {
            return self.clone();
        }
        match (self, other) {
            (ExprType::List(a), ExprType::List(b)) => ExprType::List(Box::new(a.join(b))),
            (ExprType::Optional(a), ExprType::Optional(b)) => ExprType::Optional(Box::new(a.join(b))),
            // null is assignable to an optional (the legacy nullable rule).
            (ExprType::Optional(_), ExprType::Null) => self.clone(),
            (ExprType::Null, ExprType::Optional(_)) => other.clone(),
            (ExprType::Map(ak, av), ExprType::Map(bk, bv)) => {
                ExprType::Map(Box::new(ak.join(bk)), Box::new(av.join(bv)))
            }
            _ => ExprType::Dyn,
        }
    }
}

impl fmt::Display for ExprType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprType::Dyn => f.write_str("dyn"),
            ExprType::Null => f.write_str("null_type"),
            ExprType::Bool => f.write_str("bool"),
            ExprType::Int => f.write_str("int"),
            ExprType::Uint => f.write_str("uint"),
            ExprType::Double => f.write_str("double"),
            ExprType::String => f.write_str("string"),
            ExprType::Bytes => f.write_str("bytes"),
            ExprType::Timestamp => f.write_str("timestamp"),
            ExprType::Duration => f.write_str("duration"),
            ExprType::Type => f.write_str("type"),
            ExprType::List(t) => write!(f, "list({t})"),
            ExprType::Map(k, v) => write!(f, "map({k}, {v})"),
            ExprType::Optional(t) => write!(f, "optional_type({t})"),
            ExprType::Object { .. } => f.write_str("map(string, dyn)"),
        }
    }
}

/// A type's shape, for matching overloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    Type,
    List,
    Map,
    Optional,
}

/// A refusal, at the node with id `id`.
#[derive(Debug)]
pub(super) struct CheckError {
    pub(super) id: u64,
    pub(super) message: String,
}

/// What the check learnt: the result type and the nodes whose values are scalars.
pub(super) struct Checked {
    /// The type of the whole expression.
    pub(super) result: ExprType,
    /// Ids of nodes whose value is a bool, number, null, timestamp, duration or type: copying
    /// or comparing them costs the same whatever the input (the meter need not charge them).
    pub(super) scalars: HashSet<u64>,
}

/// Checks `expr` against `declarations`.
pub(super) fn check(expr: &IdedExpr, declarations: &Declarations) -> Result<Checked, CheckError> {
    let mut checker = Checker { declarations, scopes: Vec::new(), scalars: HashSet::new() };
    let result = checker.infer(expr)?;
    Ok(Checked { result, scalars: checker.scalars })
}

struct Checker<'d> {
    declarations: &'d Declarations,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(String, ExprType)>,
    scalars: HashSet<u64>,
}

/// Names a type is spelt with in an expression (`type(x) == int`).
const TYPE_NAMES: &[&str] = &[
    "bool",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
    "optional_type",
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
];

/// Namespaces of global functions (`math.greatest`, `base64.encode`, ...).
const NAMESPACES: &[&str] = &["math", "strings", "base64", "optional", "lists", "cel", "google"];

fn err(id: u64, message: impl Into<String>) -> CheckError {
    CheckError { id, message: message.into() }
}

/// The dotted name of a `a.b.c` chain, if it is one.
fn qualified(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => Some(format!("{}.{}", qualified(&select.operand)?, select.field)),
        _ => None,
    }
}

fn root_name(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Ident(name) => Some(name),
        Expr::Select(select) if !select.test => root_name(&select.operand),
        _ => None,
    }
}

impl Checker<'_> {
    fn variable(&self, name: &str) -> Option<ExprType> {
        if let Some((_, ty)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Some(ty.clone());
        }
        self.declarations.get(name).cloned()
    }

    fn readable(&self) -> String {
        let names: Vec<&str> = self.declarations.names().collect();
        if names.is_empty() {
            "no variables are declared here".to_owned()
        } else {
            format!("it can read {}", names.join(", "))
        }
    }

    fn infer(&mut self, expr: &IdedExpr) -> Result<ExprType, CheckError> {
        let ty = self.infer_node(expr)?;
        // Only calls whose result is a scalar whatever their arguments turn out to be at run
        // time: inferred element types can be wrong where a schema is open, so types alone do
        // not decide what the meter may skip.
        if let Expr::Call(call) = &expr.expr
            && call.target.is_none()
            && returns_scalar(&call.func_name)
        {
            self.scalars.insert(expr.id);
        }
        Ok(ty)
    }

    fn infer_node(&mut self, expr: &IdedExpr) -> Result<ExprType, CheckError> {
        match &expr.expr {
            Expr::Unspecified => Err(err(expr.id, "empty expression")),
            Expr::Literal(literal) => Ok(match literal {
                LiteralValue::Boolean(_) => ExprType::Bool,
                LiteralValue::Bytes(_) => ExprType::Bytes,
                LiteralValue::Double(_) => ExprType::Double,
                LiteralValue::Int(_) => ExprType::Int,
                LiteralValue::Null => ExprType::Null,
                LiteralValue::String(_) => ExprType::String,
                LiteralValue::UInt(_) => ExprType::Uint,
            }),
            Expr::Ident(name) => self.ident(expr.id, name),
            Expr::Select(select) => {
                // A declared variable may have a dotted name (`a.b.c`).
                if !select.test
                    && let Some(name) = qualified(expr)
                    && let Some(ty) = self.variable(&name)
                {
                    return Ok(ty);
                }
                // A qualified name that is not rooted at a variable may name a type.
                if !select.test
                    && let Some(name) = qualified(expr)
                    && let Some(root) = root_name(expr)
                    && self.variable(root).is_none()
                    && !self
                        .declarations
                        .names()
                        .any(|declared| declared.strip_prefix(root).is_some_and(|rest| rest.starts_with('.')))
                {
                    if TYPE_NAMES.contains(&name.as_str()) {
                        return Ok(ExprType::Type);
                    }
                    if let Some(root) = root_name(expr)
                        && !NAMESPACES.contains(&root)
                    {
                        return Err(err(expr.id, format!("undeclared reference to '{root}' ({})", self.readable())));
                    }
                    return Err(err(expr.id, format!("undeclared reference to '{name}'")));
                }
                let operand = self.infer(&select.operand)?;
                if select.test {
                    // has() asks whether the field is there: false, not an error, when the
                    // schema does not know it.
                    return Ok(ExprType::Bool);
                }
                self.field(expr.id, &operand, &select.field)
            }
            Expr::List(list) => {
                let mut element: Option<ExprType> = None;
                for (i, item) in list.elements.iter().enumerate() {
                    let mut ty = self.infer(item)?;
                    if list.optional_indices.contains(&i) {
                        ty = match ty {
                            ExprType::Optional(inner) => *inner,
                            ExprType::Dyn => ExprType::Dyn,
                            other => {
                                return Err(err(
                                    item.id,
                                    format!("an optional element must be an optional, not {other}"),
                                ));
                            }
                        };
                    }
                    element = Some(match element {
                        None => ty,
                        Some(previous) => previous.join(&ty),
                    });
                }
                Ok(ExprType::List(Box::new(element.unwrap_or(ExprType::Dyn))))
            }
            Expr::Map(map) => {
                let (mut key, mut value): (Option<ExprType>, Option<ExprType>) = (None, None);
                for entry in &map.entries {
                    let EntryExpr::MapEntry(entry) = &entry.expr else {
                        return Err(err(expr.id, "a map literal holds key: value entries"));
                    };
                    let k = self.infer(&entry.key)?;
                    if !matches!(k.kind(), Kind::Dyn | Kind::String | Kind::Int | Kind::Uint | Kind::Bool) {
                        return Err(err(
                            entry.key.id,
                            format!("a map key must be a string, int, uint or bool, not {k}"),
                        ));
                    }
                    let mut v = self.infer(&entry.value)?;
                    if entry.optional {
                        v = match v {
                            ExprType::Optional(inner) => *inner,
                            other => other,
                        };
                    }
                    key = Some(key.map_or(k.clone(), |p| p.join(&k)));
                    value = Some(value.map_or(v.clone(), |p| p.join(&v)));
                }
                Ok(ExprType::Map(Box::new(key.unwrap_or(ExprType::Dyn)), Box::new(value.unwrap_or(ExprType::Dyn))))
            }
            Expr::Struct(strct) => Err(err(
                expr.id,
                format!(
                    "message {:?} cannot be built here: only JSON values exist; use a map literal",
                    strct.type_name
                ),
            )),
            Expr::Comprehension(c) => {
                let range = self.infer(&c.iter_range)?;
                let item = match &range {
                    ExprType::List(t) => (**t).clone(),
                    ExprType::Map(k, _) => (**k).clone(),
                    ExprType::Object { .. } => ExprType::String,
                    ExprType::Dyn => ExprType::Dyn,
                    other => return Err(err(c.iter_range.id, format!("cannot iterate over a {other}"))),
                };
                let accu = match (&c.accu_init.expr, self.infer(&c.accu_init)?) {
                    // Accumulators that start empty grow with the loop.
                    (Expr::List(list), _) if list.elements.is_empty() => ExprType::List(Box::new(ExprType::Dyn)),
                    (_, ty) => ty,
                };
                let depth = self.scopes.len();
                self.scopes.push((c.iter_var.clone(), item));
                self.scopes.push((c.accu_var.clone(), accu));
                let checked = (|| {
                    self.infer(&c.loop_cond)?;
                    self.infer(&c.loop_step)?;
                    self.infer(&c.result)
                })();
                self.scopes.truncate(depth);
                checked
            }
            Expr::Call(call) => {
                // `ns.f(x)`: a global function in a namespace, not a member call.
                if let Some(target) = &call.target
                    && let Some(root) = root_name(target)
                    && self.variable(root).is_none()
                    && let Some(prefix) = qualified(target)
                {
                    let name = format!("{prefix}.{}", call.func_name);
                    let args = self.infer_all(&call.args)?;
                    return self.global(expr.id, &name, &args);
                }
                match &call.target {
                    Some(target) => {
                        let target = self.infer(target)?;
                        let args = self.infer_all(&call.args)?;
                        self.member(expr.id, &call.func_name, &target, &args)
                    }
                    None => {
                        if call.func_name == operators::CONDITIONAL && call.args.len() == 3 {
                            let cond = self.infer(&call.args[0])?;
                            expect(&call.args[0], &cond, &[Kind::Bool], "the condition of ?:")?;
                            let a = self.infer(&call.args[1])?;
                            let b = self.infer(&call.args[2])?;
                            return Ok(a.join(&b));
                        }
                        let args = self.infer_all(&call.args)?;
                        self.global(expr.id, &call.func_name, &args)
                    }
                }
            }
        }
    }

    fn infer_all(&mut self, args: &[IdedExpr]) -> Result<Vec<ExprType>, CheckError> {
        args.iter().map(|a| self.infer(a)).collect()
    }

    fn ident(&self, id: u64, name: &str) -> Result<ExprType, CheckError> {
        if let Some(ty) = self.variable(name) {
            return Ok(ty);
        }
        if TYPE_NAMES.contains(&name) {
            return Ok(ExprType::Type);
        }
        Err(err(id, format!("undeclared reference to '{name}' ({})", self.readable())))
    }

    fn field(&self, id: u64, operand: &ExprType, field: &str) -> Result<ExprType, CheckError> {
        match operand {
            ExprType::Dyn => Ok(ExprType::Dyn),
            // Selecting through an optional gives an optional (`a.?b.c`).
            ExprType::Optional(inner) => Ok(ExprType::Optional(Box::new(self.field(id, inner, field)?))),
            ExprType::Map(key, value) => match key.kind() {
                Kind::String | Kind::Dyn => Ok((**value).clone()),
                _ => Err(err(id, format!("cannot select field '{field}' from a {operand}: its keys are not strings"))),
            },
            ExprType::Object { fields, open } => match fields.get(field) {
                Some(ty) => Ok(ty.clone()),
                None if *open => Ok(ExprType::Dyn),
                None => {
                    let known: Vec<&str> = fields.keys().map(String::as_str).collect();
                    Err(err(id, format!("no field '{field}': the schema allows only {}", known.join(", "))))
                }
            },
            other => Err(err(id, format!("cannot select field '{field}' from a {other}"))),
        }
    }

    fn global(&self, id: u64, name: &str, args: &[ExprType]) -> Result<ExprType, CheckError> {
        overload(id, name, None, args)
    }

    fn member(&self, id: u64, name: &str, target: &ExprType, args: &[ExprType]) -> Result<ExprType, CheckError> {
        overload(id, name, Some(target), args)
    }
}

/// Calls whose value is a bool or a number (or an error) for any arguments.
fn returns_scalar(name: &str) -> bool {
    matches!(
        name,
        operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS
            | operators::LOGICAL_AND
            | operators::LOGICAL_OR
            | operators::LOGICAL_NOT
            | operators::NOT_STRICTLY_FALSE
            | operators::IN
            | operators::MULTIPLY
            | operators::DIVIDE
            | operators::MODULO
            | operators::NEGATE
            | "size"
            | "int"
            | "uint"
            | "double"
            | "bool"
    )
}

fn expect(expr: &IdedExpr, ty: &ExprType, kinds: &[Kind], what: &str) -> Result<(), CheckError> {
    if ty.kind() == Kind::Dyn || kinds.contains(&ty.kind()) {
        Ok(())
    } else {
        Err(err(expr.id, format!("{what} must be a bool, not {ty}")))
    }
}

/// One overload: argument shapes (receiver first for members) and the result.
struct Sig {
    member: bool,
    args: &'static [P],
    result: R,
}

/// An argument pattern.
#[derive(Clone, Copy)]
enum P {
    K(Kind),
    /// Any type.
    Any,
}

/// A result: a fixed kind, or a type computed from the arguments.
#[derive(Clone, Copy)]
enum R {
    K(Kind),
    Dyn,
    /// The first argument's type (`+` on lists, `dyn(x)`).
    First,
    /// The element type of the first argument (`list[i]`, `map[k]`).
    Element,
    /// `list(string)`.
    ListOfString,
    /// The type of both arguments (`list + list`, `opt.or(opt)`).
    Join,
    /// The first argument's element type joined with the second's type (`opt.orValue(x)`).
    ElementOrSecond,
    /// The first argument's type wrapped in an optional.
    OptionalOfFirst,
    /// The element type of the first argument wrapped in an optional.
    OptionalElement,
}

use Kind::{
    Bool as B, Bytes as Y, Double as D, Duration as U, Int as I, List as L, Map as M, Optional as O, String as S,
    Timestamp as T, Type as Ty, Uint as N,
};

const fn g(args: &'static [P], result: R) -> Sig {
    Sig { member: false, args, result }
}
const fn m(args: &'static [P], result: R) -> Sig {
    Sig { member: true, args, result }
}
const A: P = P::Any;

/// The overloads of `name`, or `None` for a function the environment does not have.
fn signatures(name: &str) -> Option<&'static [Sig]> {
    const NUM_BIN: &[Sig] =
        &[g(&[P::K(I), P::K(I)], R::K(I)), g(&[P::K(N), P::K(N)], R::K(N)), g(&[P::K(D), P::K(D)], R::K(D))];
    const CMP: &[Sig] = &[
        g(&[P::K(I), P::K(I)], R::K(B)),
        g(&[P::K(N), P::K(N)], R::K(B)),
        g(&[P::K(D), P::K(D)], R::K(B)),
        g(&[P::K(I), P::K(N)], R::K(B)),
        g(&[P::K(I), P::K(D)], R::K(B)),
        g(&[P::K(N), P::K(I)], R::K(B)),
        g(&[P::K(N), P::K(D)], R::K(B)),
        g(&[P::K(D), P::K(I)], R::K(B)),
        g(&[P::K(D), P::K(N)], R::K(B)),
        g(&[P::K(S), P::K(S)], R::K(B)),
        g(&[P::K(Y), P::K(Y)], R::K(B)),
        g(&[P::K(B), P::K(B)], R::K(B)),
        g(&[P::K(T), P::K(T)], R::K(B)),
        g(&[P::K(U), P::K(U)], R::K(B)),
    ];
    const TS_GETTER: &[Sig] = &[m(&[P::K(T)], R::K(I)), m(&[P::K(T), P::K(S)], R::K(I)), m(&[P::K(U)], R::K(I))];
    const STR_PRED: &[Sig] = &[m(&[P::K(S), P::K(S)], R::K(B))];
    Some(match name {
        operators::ADD => {
            const {
                &[
                    g(&[P::K(I), P::K(I)], R::K(I)),
                    g(&[P::K(N), P::K(N)], R::K(N)),
                    g(&[P::K(D), P::K(D)], R::K(D)),
                    g(&[P::K(S), P::K(S)], R::K(S)),
                    g(&[P::K(Y), P::K(Y)], R::K(Y)),
                    g(&[P::K(L), P::K(L)], R::Join),
                    g(&[P::K(T), P::K(U)], R::K(T)),
                    g(&[P::K(U), P::K(T)], R::K(T)),
                    g(&[P::K(U), P::K(U)], R::K(U)),
                ]
            }
        }
        operators::SUBSTRACT => {
            const {
                &[
                    g(&[P::K(I), P::K(I)], R::K(I)),
                    g(&[P::K(N), P::K(N)], R::K(N)),
                    g(&[P::K(D), P::K(D)], R::K(D)),
                    g(&[P::K(T), P::K(T)], R::K(U)),
                    g(&[P::K(T), P::K(U)], R::K(T)),
                    g(&[P::K(U), P::K(U)], R::K(U)),
                ]
            }
        }
        operators::MULTIPLY | operators::DIVIDE => NUM_BIN,
        operators::MODULO => const { &[g(&[P::K(I), P::K(I)], R::K(I)), g(&[P::K(N), P::K(N)], R::K(N))] },
        operators::NEGATE => const { &[g(&[P::K(I)], R::K(I)), g(&[P::K(D)], R::K(D))] },
        operators::LOGICAL_NOT => const { &[g(&[P::K(B)], R::K(B))] },
        operators::LOGICAL_AND | operators::LOGICAL_OR => const { &[g(&[P::K(B), P::K(B)], R::K(B))] },
        operators::NOT_STRICTLY_FALSE => const { &[g(&[A], R::K(B))] },
        operators::EQUALS | operators::NOT_EQUALS => const { &[g(&[A, A], R::K(B))] },
        operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS => CMP,
        operators::IN => const { &[g(&[A, P::K(L)], R::K(B)), g(&[A, P::K(M)], R::K(B))] },
        operators::INDEX => {
            const {
                &[
                    g(&[P::K(L), P::K(I)], R::Element),
                    g(&[P::K(L), P::K(N)], R::Element),
                    g(&[P::K(L), P::K(D)], R::Element),
                    g(&[P::K(M), A], R::Element),
                    g(&[P::K(O), A], R::Dyn),
                ]
            }
        }
        operators::OPT_INDEX => {
            const { &[g(&[P::K(L), A], R::OptionalElement), g(&[P::K(M), A], R::OptionalElement), g(&[P::K(O), A], R::Dyn)] }
        }
        operators::OPT_SELECT => {
            const { &[g(&[P::K(M), P::K(S)], R::OptionalElement), g(&[P::K(O), P::K(S)], R::Dyn)] }
        }
        "size" => {
            const {
                &[
                    g(&[P::K(S)], R::K(I)),
                    g(&[P::K(Y)], R::K(I)),
                    g(&[P::K(L)], R::K(I)),
                    g(&[P::K(M)], R::K(I)),
                    m(&[P::K(S)], R::K(I)),
                    m(&[P::K(Y)], R::K(I)),
                    m(&[P::K(L)], R::K(I)),
                    m(&[P::K(M)], R::K(I)),
                ]
            }
        }
        "int" => {
            const {
                &[
                    g(&[P::K(I)], R::K(I)),
                    g(&[P::K(N)], R::K(I)),
                    g(&[P::K(D)], R::K(I)),
                    g(&[P::K(S)], R::K(I)),
                    g(&[P::K(T)], R::K(I)),
                ]
            }
        }
        "uint" => {
            const { &[g(&[P::K(N)], R::K(N)), g(&[P::K(I)], R::K(N)), g(&[P::K(D)], R::K(N)), g(&[P::K(S)], R::K(N))] }
        }
        "double" => {
            const { &[g(&[P::K(D)], R::K(D)), g(&[P::K(I)], R::K(D)), g(&[P::K(N)], R::K(D)), g(&[P::K(S)], R::K(D))] }
        }
        "string" => {
            const {
                &[
                    g(&[P::K(S)], R::K(S)),
                    g(&[P::K(I)], R::K(S)),
                    g(&[P::K(N)], R::K(S)),
                    g(&[P::K(D)], R::K(S)),
                    g(&[P::K(B)], R::K(S)),
                    g(&[P::K(Y)], R::K(S)),
                    g(&[P::K(T)], R::K(S)),
                    g(&[P::K(U)], R::K(S)),
                ]
            }
        }
        "bytes" => const { &[g(&[P::K(Y)], R::K(Y)), g(&[P::K(S)], R::K(Y))] },
        "bool" => const { &[g(&[P::K(B)], R::K(B)), g(&[P::K(S)], R::K(B))] },
        "timestamp" | "google.protobuf.Timestamp" => {
            const { &[g(&[P::K(T)], R::K(T)), g(&[P::K(S)], R::K(T)), g(&[P::K(I)], R::K(T))] }
        }
        "duration" | "google.protobuf.Duration" => const { &[g(&[P::K(U)], R::K(U)), g(&[P::K(S)], R::K(U))] },
        "type" => const { &[g(&[A], R::K(Ty))] },
        "dyn" => const { &[g(&[A], R::Dyn)] },
        "matches" => const { &[g(&[P::K(S), P::K(S)], R::K(B)), m(&[P::K(S), P::K(S)], R::K(B))] },
        "contains" | "startsWith" | "endsWith" => STR_PRED,
        "getFullYear" | "getMonth" | "getDate" | "getDayOfMonth" | "getDayOfWeek" | "getDayOfYear" => {
            const { &[m(&[P::K(T)], R::K(I)), m(&[P::K(T), P::K(S)], R::K(I))] }
        }
        "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds" => TS_GETTER,
        // strings extension
        "charAt" => const { &[m(&[P::K(S), P::K(I)], R::K(S))] },
        "indexOf" | "lastIndexOf" => {
            const { &[m(&[P::K(S), P::K(S)], R::K(I)), m(&[P::K(S), P::K(S), P::K(I)], R::K(I))] }
        }
        "lowerAscii" | "upperAscii" | "trim" => const { &[m(&[P::K(S)], R::K(S))] },
        "replace" => {
            const { &[m(&[P::K(S), P::K(S), P::K(S)], R::K(S)), m(&[P::K(S), P::K(S), P::K(S), P::K(I)], R::K(S))] }
        }
        "split" => {
            const { &[m(&[P::K(S), P::K(S)], R::ListOfString), m(&[P::K(S), P::K(S), P::K(I)], R::ListOfString)] }
        }
        "substring" => const { &[m(&[P::K(S), P::K(I)], R::K(S)), m(&[P::K(S), P::K(I), P::K(I)], R::K(S))] },
        "join" => const { &[m(&[P::K(L)], R::K(S)), m(&[P::K(L), P::K(S)], R::K(S))] },
        "format" => const { &[m(&[P::K(S), P::K(L)], R::K(S))] },
        "reverse" => const { &[m(&[P::K(S)], R::K(S)), m(&[P::K(L)], R::First)] },
        "strings.quote" => const { &[g(&[P::K(S)], R::K(S))] },
        // math extension (greatest/least are macros the parser expands to these)
        "math.greatest" | "math.least" | "math.@max" | "math.@min" | "@max" | "@min" => const { &[] },
        "math.ceil" | "math.floor" | "math.round" | "math.trunc" => const { &[g(&[P::K(D)], R::K(D))] },
        "math.isInf" | "math.isNaN" | "math.isFinite" => const { &[g(&[P::K(D)], R::K(B))] },
        "math.abs" | "math.sign" => const { &[g(&[P::K(D)], R::K(D)), g(&[P::K(I)], R::K(I)), g(&[P::K(N)], R::K(N))] },
        "math.sqrt" => const { &[g(&[P::K(D)], R::K(D)), g(&[P::K(I)], R::K(D)), g(&[P::K(N)], R::K(D))] },
        "math.bitAnd" | "math.bitOr" | "math.bitXor" => {
            const { &[g(&[P::K(I), P::K(I)], R::K(I)), g(&[P::K(N), P::K(N)], R::K(N))] }
        }
        "math.bitNot" => const { &[g(&[P::K(I)], R::K(I)), g(&[P::K(N)], R::K(N))] },
        "math.bitShiftLeft" | "math.bitShiftRight" => {
            const { &[g(&[P::K(I), P::K(I)], R::K(I)), g(&[P::K(N), P::K(I)], R::K(N))] }
        }
        // lists extension
        "slice" => const { &[m(&[P::K(L), P::K(I), P::K(I)], R::First)] },
        "flatten" => const { &[m(&[P::K(L)], R::Dyn), m(&[P::K(L), P::K(I)], R::Dyn)] },
        "distinct" | "sort" => const { &[m(&[P::K(L)], R::First)] },
        "lists.range" => const { &[g(&[P::K(I)], R::K(L))] },
        // encoders
        "base64.encode" => const { &[g(&[P::K(Y)], R::K(S))] },
        "base64.decode" => const { &[g(&[P::K(S)], R::K(Y))] },
        // optional types
        "optional.of" | "optional.ofNonZeroValue" => const { &[g(&[A], R::OptionalOfFirst)] },
        "optional.none" => const { &[g(&[], R::K(O))] },
        "hasValue" => const { &[m(&[P::K(O)], R::K(B))] },
        "value" => const { &[m(&[P::K(O)], R::Element)] },
        "or" => const { &[m(&[P::K(O), P::K(O)], R::Join)] },
        "orValue" => const { &[m(&[P::K(O), A], R::ElementOrSecond)] },
        // written here (see functions.rs)
        "@entries" => const { &[g(&[P::K(L)], R::K(L)), g(&[P::K(M)], R::K(L))] },
        "@pairs_to_map" => const { &[g(&[P::K(L)], R::K(M))] },
        _ => return None,
    })
}

/// Names whose overloads are not listed: accepted with any arguments, result `dyn`.
fn is_unlisted(name: &str) -> bool {
    matches!(
        name,
        "math.greatest"
            | "math.least"
            | "math.@max"
            | "math.@min"
            | "@max"
            | "@min"
            | "sortBy"
            | "@sortByAssociatedKeys"
    )
}

fn overload(id: u64, name: &str, target: Option<&ExprType>, args: &[ExprType]) -> Result<ExprType, CheckError> {
    let all: Vec<&ExprType> = target.into_iter().chain(args.iter()).collect();
    let Some(sigs) = signatures(name) else {
        if is_unlisted(name) || name.starts_with('@') {
            return Ok(ExprType::Dyn);
        }
        return Err(err(
            id,
            match target {
                Some(_) => format!("undeclared function '{name}' (no member function of that name exists)"),
                None => format!("undeclared function '{name}'"),
            },
        ));
    };
    if sigs.is_empty() {
        return Ok(ExprType::Dyn);
    }
    let member = target.is_some();
    let mut result: Option<ExprType> = None;
    let mut arity_ok = false;
    for sig in sigs.iter().filter(|s| s.member == member) {
        if sig.args.len() != all.len() {
            continue;
        }
        arity_ok = true;
        let matches = sig.args.iter().zip(&all).all(|(p, ty)| match p {
            P::Any => true,
            P::K(kind) => ty.kind() == Kind::Dyn || ty.kind() == *kind,
        });
        if !matches {
            continue;
        }
        let ty = match sig.result {
            R::K(Kind::List) => ExprType::List(Box::new(ExprType::Dyn)),
            R::K(Kind::Map) => ExprType::Map(Box::new(ExprType::Dyn), Box::new(ExprType::Dyn)),
            R::K(Kind::Optional) => ExprType::Optional(Box::new(ExprType::Dyn)),
            R::K(kind) => kind_type(kind),
            R::Dyn => ExprType::Dyn,
            R::First => all.first().map_or(ExprType::Dyn, |t| (*t).clone()),
            R::Element => all.first().map_or(ExprType::Dyn, |t| element(t)),
            R::ListOfString => ExprType::List(Box::new(ExprType::String)),
            R::Join => match (all.first(), all.get(1)) {
                (Some(a), Some(b)) => a.join(b),
                _ => ExprType::Dyn,
            },
            R::ElementOrSecond => match (all.first(), all.get(1)) {
                (Some(a), Some(b)) => element(a).join(b),
                _ => ExprType::Dyn,
            },
            R::OptionalOfFirst => ExprType::Optional(Box::new(all.first().map_or(ExprType::Dyn, |t| (*t).clone()))),
            R::OptionalElement => ExprType::Optional(Box::new(all.first().map_or(ExprType::Dyn, |t| element(t)))),
        };
        result = Some(match result {
            None => ty,
            Some(previous) => previous.join(&ty),
        });
    }
    if let Some(ty) = result {
        return Ok(ty);
    }
    let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
    let applied = match target {
        Some(t) => format!("{t}.({})", shown.join(", ")),
        None => format!("({})", shown.join(", ")),
    };
    if !arity_ok {
        return Err(err(
            id,
            format!("'{}' does not take {} argument(s): applied to '{applied}'", display_name(name), args.len()),
        ));
    }
    let hint = if matches!(name, operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE)
        && all.iter().any(|t| t.kind() == Kind::Double)
        && all.iter().any(|t| matches!(t.kind(), Kind::Int | Kind::Uint))
    {
        " (CEL does not mix int and double in arithmetic; convert one side with double(x) or int(x))"
    } else {
        ""
    };
    Err(err(id, format!("found no matching overload for '{}' applied to '{applied}'{hint}", display_name(name))))
}

fn display_name(name: &str) -> &str {
    match name {
        operators::ADD => "_+_",
        other => other,
    }
}

fn kind_type(kind: Kind) -> ExprType {
    match kind {
        Kind::Dyn => ExprType::Dyn,
        Kind::Null => ExprType::Null,
        Kind::Bool => ExprType::Bool,
        Kind::Int => ExprType::Int,
        Kind::Uint => ExprType::Uint,
        Kind::Double => ExprType::Double,
        Kind::String => ExprType::String,
        Kind::Bytes => ExprType::Bytes,
        Kind::Timestamp => ExprType::Timestamp,
        Kind::Duration => ExprType::Duration,
        Kind::Type => ExprType::Type,
        Kind::List => ExprType::List(Box::new(ExprType::Dyn)),
        Kind::Map => ExprType::json_object(),
        Kind::Optional => ExprType::Optional(Box::new(ExprType::Dyn)),
    }
}

fn element(ty: &ExprType) -> ExprType {
    match ty {
        ExprType::List(t) | ExprType::Optional(t) => (**t).clone(),
        ExprType::Map(_, v) => (**v).clone(),
        _ => ExprType::Dyn,
    }
}
