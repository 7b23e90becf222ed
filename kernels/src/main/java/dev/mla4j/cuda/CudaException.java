package dev.mla4j.cuda;

/** A CUDA driver or NVRTC call failed; the message names the call and the result code. */
public final class CudaException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public CudaException(String message) {
    super(message);
  }

  public CudaException(String message, Throwable cause) {
    super(message, cause);
  }
}
