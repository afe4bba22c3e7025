//! `datapunk_forget(id_type, id)`: an admin's erasure request, one per input row
//! (`SELECT datapunk_forget('email', email) FROM lake.unsubscribes` forgets each). Runs
//! when the query runs, never while it is planned; answers what it recorded.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::Privacy;
use crate::engine::access::ViewerHandle;

pub const NAME: &str = "datapunk_forget";

/// The function of one session.
#[derive(Debug)]
struct Forget {
    privacy: Weak<Privacy>,
    viewer: ViewerHandle,
    signature: Signature,
}

impl PartialEq for Forget {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Forget {}

impl std::hash::Hash for Forget {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        NAME.hash(state);
    }
}

pub fn udf(privacy: Weak<Privacy>, viewer: ViewerHandle) -> ScalarUDF {
    AsyncScalarUDF::new(Arc::new(Forget {
        privacy,
        viewer,
        signature: Signature::any(2, Volatility::Volatile),
    }))
    .into_scalar_udf()
}

impl ScalarUDFImpl for Forget {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "{NAME} runs asynchronously"
        )))
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for Forget {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let privacy = self
            .privacy
            .upgrade()
            .ok_or_else(|| DataFusionError::Execution("the server is shutting down".into()))?;
        let rows = args.number_rows;
        let texts = args
            .args
            .into_iter()
            .map(|a| Ok(cast(&a.into_array(rows)?, &DataType::Utf8)?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let [id_types, ids] = texts.as_slice() else {
            return Err(crate::error::invalid_argument(
                NAME,
                "expects (id_type, id)",
            ));
        };
        let (id_types, ids) = (id_types.as_string::<i32>(), ids.as_string::<i32>());
        let viewer = self.viewer.get();
        let mut out = StringBuilder::new();
        for row in 0..rows {
            if id_types.is_null(row) || ids.is_null(row) {
                out.append_null();
                continue;
            }
            let said = privacy
                .forget(&viewer, id_types.value(row), ids.value(row))
                .await?;
            out.append_value(said);
        }
        Ok(ColumnarValue::Array(std::sync::Arc::new(out.finish())))
    }
}
