// Builds the WebAssembly kernels (AssemblyScript → .wasm → embedded base64 module). Placeholder
// until the kernels land: nothing to build yet.
console.log('wasm: no kernels yet');
