//! The placeholders that stand for registry functions while DataFusion plans SQL text: each
//! types its calls through the registry ([`Registry`]) and is replaced by the registry's
//! expression afterwards (`crate::sql_functions`); [`spark_label`] gives a call's Spark name
//! while the placeholder is still in the plan (`crate::output_names`).

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Column, DFSchema};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionState;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Expr, ExprSchemable, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDFImpl, Signature,
};
use spate_common::{Error, Result};

use crate::functions::{self, Arg, CallContext};

/// Spark's name for a call of function `func` (a scalar or aggregate implementation) with
/// arguments `args` (their expressions and Spark names) over `schema`, when `func` is a
/// placeholder: the name the registry gives the call.
pub fn spark_label(
    func: &dyn Any,
    args: &[(Expr, String)],
    schema: &DFSchema,
    distinct: bool,
) -> Option<String> {
    let p = func.downcast_ref::<Placeholder>()?;
    let args = args
        .iter()
        .map(|(expr, name)| Arg {
            expr: expr.clone(),
            name: name.clone(),
        })
        .collect();
    let (_, label) = p
        .registry
        .resolve(&p.name, args, schema, distinct, false)
        .ok()?;
    Some(crate::call_names::as_called(label, &p.name))
}

/// The placeholder `func` is, if it is one.
pub(crate) fn placeholder(func: &dyn Any) -> Option<&Placeholder> {
    func.downcast_ref::<Placeholder>()
}

/// What a placeholder resolves its calls with: the session state without placeholders.
pub(crate) struct Registry {
    pub(crate) state: SessionState,
    pub(crate) tz: String,
    pub(crate) ansi: bool,
    /// `spark.sql.mapKeyDedupPolicy` is `LAST_WIN`.
    pub(crate) map_last_win: bool,
    /// Names a call's arguments as Spark does (`crate::output_names::expr_name`, given by
    /// the caller: naming sits above this module).
    pub(crate) namer: fn(&Expr, &DFSchema, &str) -> String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("tz", &self.tz).finish()
    }
}

impl Registry {
    fn resolve(
        &self,
        name: &str,
        args: Vec<Arg>,
        schema: &DFSchema,
        distinct: bool,
        typing: bool,
    ) -> Result<(Expr, String)> {
        if functions::dataframe_only(&name.to_lowercase()) {
            return Err(functions::unresolved_routine(name));
        }
        let cx = CallContext {
            state: &self.state,
            schema,
            tz: &self.tz,
            distinct,
            ansi: self.ansi,
            map_last_win: self.map_last_win,
            typing,
        };
        functions::resolve(name, args, &cx)
    }

    /// The type of a call from its arguments' fields (and values, where constant): the call
    /// resolved over columns `a0`, `a1`, ... of those types.
    fn field_of(
        &self,
        name: &str,
        fields: &[FieldRef],
        constants: &[Option<&datafusion::scalar::ScalarValue>],
    ) -> Result<FieldRef> {
        let columns: Vec<Field> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| f.as_ref().clone().with_name(format!("a{i}")))
            .collect();
        let schema = DFSchema::from_unqualified_fields(columns.into(), Default::default())?;
        let args = (0..fields.len())
            .map(|i| -> Result<Arg> {
                Ok(Arg {
                    expr: match constants.get(i).copied().flatten() {
                        // typed as it will be once planned (`int` where it fits)
                        Some(v) => {
                            crate::literal::int_literals(Expr::Literal(v.clone(), None))?.data
                        }
                        None => Expr::Column(Column::from_name(format!("a{i}"))),
                    },
                    name: format!("a{i}"),
                })
            })
            .collect::<Result<_>>()?;
        let (expr, _) = self.resolve(name, args, &schema, false, true)?;
        let (_, field) = expr.to_field(&schema)?;
        Ok(Arc::new(field.as_ref().clone().with_name(name)))
    }
}

/// A function of SQL text that the registry resolves: it only types calls during planning.
#[derive(Debug)]
pub(crate) struct Placeholder {
    pub(crate) name: String,
    pub(crate) signature: Signature,
    pub(crate) registry: Arc<Registry>,
}

impl Placeholder {
    pub(crate) fn resolve(
        &self,
        args: Vec<Expr>,
        schema: &DFSchema,
        distinct: bool,
    ) -> Result<(Expr, String)> {
        let args = args
            .into_iter()
            .map(|expr| {
                let name = (self.registry.namer)(&expr, schema, &self.registry.tz);
                Arg { expr, name }
            })
            .collect();
        self.registry
            .resolve(&self.name, args, schema, distinct, false)
    }

    fn not_replaced(&self) -> DataFusionError {
        Error::internal(format!(
            "the call of {} was not resolved before execution",
            self.name
        ))
        .into()
    }
}

impl PartialEq for Placeholder {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.registry, &other.registry)
    }
}

impl Eq for Placeholder {}

impl Hash for Placeholder {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for Placeholder {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Err(self.not_replaced())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        Ok(self
            .registry
            .field_of(&self.name, args.arg_fields, args.scalar_arguments)?)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(self.not_replaced())
    }
}

impl AggregateUDFImpl for Placeholder {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        Ok(self
            .registry
            .field_of(&self.name, &fields, &[])?
            .data_type()
            .clone())
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> DfResult<FieldRef> {
        Ok(self.registry.field_of(&self.name, arg_fields, &[])?)
    }

    fn supports_null_handling_clause(&self) -> bool {
        true
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> DfResult<Box<dyn Accumulator>> {
        Err(self.not_replaced())
    }
}
