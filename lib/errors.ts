/**
 * Typed errors. Every message says what was given and what was expected; messages are built
 * only when something failed (see `check`), so validation stays cheap on the hot path.
 */

/** Base class of every error flashtensor throws on purpose. */
export class FlashTensorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A shape argument is wrong: rank, sizes, broadcastability, axis out of range. */
export class ShapeError extends FlashTensorError {}

/** A dtype argument is wrong or unsupported by the op or kernel. */
export class DTypeError extends FlashTensorError {}

/** A non-tensor argument (option, size, index) is out of its domain. */
export class ArgumentError extends FlashTensorError {}

/** A tensor was used after `dispose()`. */
export class DisposedError extends FlashTensorError {}

/** No kernel is registered for (kernel, backend). */
export class KernelNotFoundError extends FlashTensorError {
  constructor(readonly kernelName: string, readonly backendName: string) {
    super(`kernel '${kernelName}' is not registered for backend '${backendName}'`);
  }
}

/** A backend is unknown, failed to initialise, or lost its device. */
export class BackendError extends FlashTensorError {}

/** An allocation would exceed a configured budget or the backend's memory. */
export class OutOfMemoryError extends FlashTensorError {}

/** A safetensors file is malformed; the message names the tensor and the problem. */
export class SafetensorsError extends FlashTensorError {}

/** A quantized checkpoint's tensors are inconsistent or unsupported; the message names the tensor. */
export class QuantStateError extends FlashTensorError {}

/** Throws `ErrorClass(message())` when `cond` is false; the message is built only on failure. */
export function check(
  cond: unknown,
  ErrorClass: new (msg: string) => Error,
  message: () => string,
): asserts cond {
  if (!cond) throw new ErrorClass(message());
}

/** One implementation's verdict in an SDPA dispatch. */
export interface SdpaRejection {
  backend: string;
  reasons: string[];
}

/** No attention implementation is both allowed by the scope and eligible for the inputs. */
export class NoAvailableKernelError extends FlashTensorError {
  constructor(readonly rejections: SdpaRejection[]) {
    super(
      'No available kernel. Aborting execution.\n' +
        rejections.map((r) => `  ${r.backend} not used because: ${r.reasons.join('; ')}`).join('\n'),
    );
  }
}
