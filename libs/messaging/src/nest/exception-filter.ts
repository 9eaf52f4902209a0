import { Catch, type ArgumentsHost, type RpcExceptionFilter } from '@nestjs/common';
import { throwError, type Observable } from 'rxjs';
import { toPatchbayError } from '../errors.js';

/**
 * Lets a handler's `PatchbayError` reach the transport with its code intact (Nest's default RPC
 * filter would turn it into "Internal server error"). Register it with
 * `app.useGlobalFilters(new PatchbayRpcExceptionFilter())`.
 */
@Catch()
export class PatchbayRpcExceptionFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => toPatchbayError(exception));
  }
}
