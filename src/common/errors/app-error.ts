/** One field-level problem in a 400 answer. `field` is a JSON path such as `lines[2].quantity`. */
export interface FieldError {
  field: string;
  message: string;
  code?: string;
}

/**
 * The error every module throws for an expected failure. `code` is stable and machine-readable
 * (clients switch on it); `status` picks the HTTP status; `detail` is safe to show a user.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = 'AppError';
  }

  static badRequest(code: string, detail: string, errors?: FieldError[]): AppError {
    return new AppError(400, code, detail, errors);
  }

  static validation(errors: FieldError[]): AppError {
    const fields = errors.map((error) => error.field).join(', ');
    return new AppError(400, 'validation_failed', `The request is not valid: ${fields}`, errors);
  }

  static unauthorized(code = 'unauthorized', detail = 'Authentication is required.'): AppError {
    return new AppError(401, code, detail);
  }

  static forbidden(code = 'forbidden', detail = 'You are not allowed to do this.'): AppError {
    return new AppError(403, code, detail);
  }

  static notFound(code = 'not_found', detail = 'Not found.'): AppError {
    return new AppError(404, code, detail);
  }

  static conflict(code: string, detail: string): AppError {
    return new AppError(409, code, detail);
  }
}
