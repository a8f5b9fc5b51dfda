import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  CreateApiKeyBodySchema,
  KeyIdParamsSchema,
  type ApiKeyWire,
  type CreateApiKeyBody,
  type CreatedApiKeyWire,
} from '@jobtrail/domain';
import type { z } from 'zod';
import { Valid } from '../common/zod-validation.pipe.js';
import type { AuthContext } from './auth-context.js';
import { Caller, RequiresRole } from './auth.decorators.js';
import { KeysService } from './keys.service.js';

type KeyParams = z.infer<typeof KeyIdParamsSchema>;

/**
 * The tenant's API keys (admins only). `POST` is deliberately not idempotent-replayable: a replay
 * store would have to keep the new key in clear.
 */
@Controller('keys')
@RequiresRole('admin')
export class KeysController {
  constructor(private readonly keys: KeysService) {}

  @Get()
  list(@Caller() auth: AuthContext): Promise<ApiKeyWire[]> {
    return this.keys.list(auth);
  }

  @Post()
  @HttpCode(201)
  create(
    @Caller() auth: AuthContext,
    @Body(Valid.body(CreateApiKeyBodySchema)) body: CreateApiKeyBody,
  ): Promise<CreatedApiKeyWire> {
    return this.keys.create(auth, body);
  }

  @Delete(':key_id')
  @HttpCode(204)
  async revoke(@Caller() auth: AuthContext, @Param(Valid.path(KeyIdParamsSchema)) params: KeyParams): Promise<void> {
    await this.keys.revoke(auth, params.key_id);
  }
}
