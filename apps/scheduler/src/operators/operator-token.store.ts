import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import { AppConfig, type OperatorPrincipal, tokenDigest } from '@app/config';

/**
 * The operators' tokens, as SHA-256 digests (the configuration never holds a token itself). A
 * presented token is hashed and compared with every configured digest by `crypto.timingSafeEqual`:
 * digests are always 32 bytes, so neither the comparison nor the loop (which never stops early)
 * tells a caller how much of a token was right, or which entry matched.
 */
@Injectable()
export class OperatorTokenStore implements OnModuleInit {
  private readonly principals: readonly OperatorPrincipal[];

  constructor(config: AppConfig) {
    this.principals = config.operators;
  }

  /** One warning at boot when nobody can use the API (names and roles only are ever logged). */
  onModuleInit(): void {
    if (this.principals.length === 0) {
      new Logger('OperatorTokens').warn(
        "no operator token configured (OPERATOR_TOKENS, OPERATOR_TOKENS_FILE): every call of the operators' API answers 401",
      );
    }
  }

  /** How many tokens are configured; none means every call of the operators' API is 401. */
  get size(): number {
    return this.principals.length;
  }

  /** The principal the token belongs to, or null. */
  authenticate(token: string | undefined): OperatorPrincipal | null {
    if (token === undefined || token === '') return null;
    const presented = tokenDigest(token);
    let found: OperatorPrincipal | null = null;
    for (const principal of this.principals) {
      // Every entry is compared; the match is kept without leaving the loop.
      if (timingSafeEqual(presented, principal.tokenDigest) && found === null) found = principal;
    }
    return found;
  }
}
