/**
 * Schema pieces every module shares, stricter than Elysia's defaults where those would accept what the
 * API must refuse.
 *
 * Elysia's `t.Integer` also takes a string holding an integer and converts it ("0x6", " 3", "+5",
 * "7e0", "1e3" all passed as order quantities). A JSON body's integer must be a JSON number: `Int` is
 * TypeBox's own integer, with no string branch. A query parameter arrives as text, so `QueryInt` keeps
 * the conversion, but the text must be plain decimal digits: the `integer` string format is replaced
 * here, for every schema that uses it.
 */
import { FormatRegistry, type IntegerOptions, Type } from '@sinclair/typebox';
import { t } from 'elysia';

const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;
FormatRegistry.Set('integer', (value) => DECIMAL.test(value));

/** A JSON integer, and nothing else. */
export const Int = (options?: IntegerOptions) => Type.Integer(options);

/** The schema, or null. */
export const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

/** An integer in a query string: decimal digits only, no sign, spaces, hex or exponent. */
export const QueryInt = (options?: IntegerOptions) => t.Integer(options);
