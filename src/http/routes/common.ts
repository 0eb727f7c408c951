import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Actor } from "../../domain/services/context.js";
import type { Caller } from "../../domain/caller.js";

export const Paging = {
  top: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  skip: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
};

export const IdParam = Type.Object({ id: Type.String({ maxLength: 80 }) });

export function callerOf(req: FastifyRequest): Caller {
  return req.caller!;
}

export function actorOf(req: FastifyRequest): Actor {
  return { caller: req.caller!, correlationId: req.id };
}

/** 201 Created with a Location header and, as body, the JSON string of the relative URI. */
export function created(reply: FastifyReply, relative: string): string {
  reply.status(201).header("location", `/CertificateManagement/${relative}`);
  return jsonString(reply, relative);
}

/** A bare JSON string body (Fastify would otherwise send a string as text/plain). */
export function jsonString(reply: FastifyReply, value: string): string {
  reply.header("content-type", "application/json; charset=utf-8");
  return JSON.stringify(value);
}

export const AnyJson = Type.Any();
