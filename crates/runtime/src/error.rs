//! Errors of loading a component. The engine maps each to an API code (`switchyard_engine::ErrorCode`).

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The bytes are not a WebAssembly component wasmtime can compile.
    #[error("not a valid WebAssembly component: {0}")]
    InvalidComponent(String),
    /// The component does not implement the `switchyard:function` world.
    #[error("the component does not implement switchyard:function@0.1.0: {0}")]
    WorldMismatch(String),
    /// The compiled-artifact cache could not be read or written.
    #[error("function cache {path}: {message}")]
    Cache {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The runtime could not be set up.
    #[error("function runtime: {0}")]
    Setup(String),
}
