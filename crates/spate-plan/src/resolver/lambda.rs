//! Lambda functions in higher-order calls (`F.transform(col, lambda x: x + 1)`), built on
//! DataFusion's lambdas: the call becomes `Expr::HigherOrderFunction` with `Expr::Lambda`
//! arguments. The function says what its lambdas' parameters are (`lambda_parameters`); while
//! a body is resolved those parameters are in scope, and `UnresolvedNamedLambdaVariable`
//! references become typed `Expr::LambdaVariable`s. Bodies may capture outer columns and nest.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::DFSchema;
use datafusion::logical_expr::expr::{HigherOrderFunction, Lambda, LambdaVariable};
use datafusion::logical_expr::{Expr, ExprSchemable, LambdaParametersProgress, ValueOrLambda};
use spark_connect_proto::spark::connect::Expression;
use spark_connect_proto::spark::connect::expression::{self as pe, ExprType};
use spate_common::{Error, Result};

use super::Resolver;
use super::expression::{Named, is_lambda, required};

/// Spark's name for a lambda variable in output column names.
pub const VARIABLE_NAME: &str = "namedlambdavariable()";

impl Resolver<'_> {
    /// Resolves a call of a higher-order function whose arguments include lambdas.
    pub(crate) fn higher_order(
        &self,
        name: &str,
        arguments: &[Expression],
        schema: &DFSchema,
    ) -> Result<Named> {
        let lower = name.to_lowercase();
        let target = match lower.as_str() {
            "exists" => "array_any_match",
            other => other,
        };
        let Some(udf) = self.state.higher_order_functions().get(target).cloned() else {
            return Err(crate::functions::unresolved_routine(&lower));
        };
        let mut values: Vec<Option<Named>> = Vec::with_capacity(arguments.len());
        let mut fields = Vec::with_capacity(arguments.len());
        for a in arguments {
            if is_lambda(a) {
                values.push(None);
                fields.push(ValueOrLambda::Lambda(None));
            } else {
                let n = self.expr(a, schema)?;
                let t = n.expr.get_type(schema)?;
                fields.push(ValueOrLambda::Value(Arc::new(Field::new("", t, true))));
                values.push(Some(n));
            }
        }
        let params = match udf
            .inner()
            .lambda_parameters(0, &fields)
            .map_err(|e| mismatch(&lower, e))?
        {
            LambdaParametersProgress::Complete(p) => p,
            LambdaParametersProgress::Partial(_) => {
                return Err(Error::internal(format!(
                    "{lower}: lambda parameters depend on lambda results"
                )));
            }
        };
        let mut params = params.into_iter();
        let mut args = Vec::with_capacity(arguments.len());
        let mut names = Vec::with_capacity(arguments.len());
        for (a, value) in arguments.iter().zip(values) {
            let n = match value {
                Some(n) => n,
                None => {
                    let p = params.next().ok_or_else(|| {
                        Error::internal(format!("{lower}: no parameters for a lambda"))
                    })?;
                    self.lambda(a, &p, schema)?
                }
            };
            args.push(n.expr);
            names.push(n.name);
        }
        let expr = Expr::HigherOrderFunction(HigherOrderFunction::new(udf, args));
        // check the call now, so a bad lambda fails at analysis like in Spark
        expr.get_type(schema).map_err(|e| mismatch(&lower, e))?;
        Ok(Named {
            expr,
            name: format!("{lower}({})", names.join(", ")),
        })
    }

    /// Resolves a lambda whose parameters may be `params` (it may declare fewer).
    fn lambda(&self, e: &Expression, params: &[FieldRef], schema: &DFSchema) -> Result<Named> {
        let Some(ExprType::LambdaFunction(l)) = &e.expr_type else {
            return Err(Error::internal("expected a lambda function"));
        };
        let pe::LambdaFunction {
            function,
            arguments,
        } = &**l;
        if arguments.is_empty() || arguments.len() > params.len() {
            return Err(Error::analysis(
                "INVALID_LAMBDA_FUNCTION_CALL.NUM_ARGS_MISMATCH",
                format!(
                    "A higher order function expects {} arguments, but got {}.",
                    params.len(),
                    arguments.len()
                ),
            ));
        }
        let vars: Vec<String> = arguments.iter().map(|v| v.name_parts.join(".")).collect();
        let scoped: Vec<(String, FieldRef)> = vars
            .iter()
            .zip(params)
            .map(|(v, f)| {
                (
                    v.clone(),
                    Arc::new(f.as_ref().clone().with_name(v.as_str())),
                )
            })
            .collect();
        let depth = self.push_lambda_scope(scoped);
        let body = self.expr(required(function)?, schema);
        self.pop_lambda_scope(depth);
        let body = body?;
        let var_names = vec![VARIABLE_NAME; vars.len()].join(", ");
        Ok(Named {
            expr: Expr::Lambda(Lambda::new(vars, body.expr)),
            name: format!("lambdafunction({}, {var_names})", body.name),
        })
    }

    /// The lambda variable `name` in scope (innermost first), as Spark names it.
    pub(crate) fn lambda_variable(&self, name: &str) -> Option<Named> {
        let scope = self.lambda_scope.lock().ok()?;
        scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(n, f)| Named {
                expr: Expr::LambdaVariable(LambdaVariable::new(n.clone(), Some(Arc::clone(f)))),
                name: VARIABLE_NAME.into(),
            })
    }

    fn push_lambda_scope(&self, vars: Vec<(String, FieldRef)>) -> usize {
        match self.lambda_scope.lock() {
            Ok(mut scope) => {
                let depth = scope.len();
                scope.extend(vars);
                depth
            }
            Err(_) => 0,
        }
    }

    fn pop_lambda_scope(&self, depth: usize) {
        if let Ok(mut scope) = self.lambda_scope.lock() {
            scope.truncate(depth);
        }
    }
}

/// Spark's error for arguments a higher-order function cannot take.
fn mismatch(function: &str, e: impl std::fmt::Display) -> Error {
    Error::analysis(
        "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE",
        format!("Cannot resolve \"{function}\" due to data type mismatch: {e}"),
    )
}
