/**
 * The two Mosaic certificate extensions (CONTRACT.md "Certificate extensions"):
 *
 * | OID                   | value                                   |
 * | 1.3.6.1.4.1.99999.1   | UTF8String, the grant UUID (lowercase)  |
 * | 1.3.6.1.4.1.99999.2   | UTF8String, the subject user id         |
 *
 * Both are non-critical. Each is a class buildable from DER or from its typed value (the
 * @peculiar/x509 pattern), and they are found through an explicit {@link MosaicExtensionRegistry}
 * — importing this file registers nothing anywhere.
 */
import {
  ExtBadGrantIdError,
  ExtBadLengthError,
  ExtBadTagError,
  ExtBadUtf8Error,
  ExtCriticalError,
  ExtEmptyError,
  ExtTooLongError,
  ExtTrailingBytesError,
  IssueInvalidError,
} from './errors.js';
import { Oid } from './oids.js';
import { decodeUtf8String, encodeUtf8String, isWellFormedUnicode } from './utf8-string.js';
import { toArrayBuffer, x509 } from './x509.js';

/** OID of the grant id extension. */
export const MOSAIC_GRANT_ID_OID = Oid.mosaicGrantId;
/** OID of the subject user id extension. */
export const MOSAIC_SUBJECT_USER_ID_OID = Oid.mosaicSubjectUserId;

/** A grant id is a lowercase UUID: always 36 bytes. */
export const GRANT_ID_BYTES = 36;
/** Subject user ids are chosen by the serving side's seed data; 256 UTF-8 bytes is generous. */
export const MAX_SUBJECT_USER_ID_BYTES = 256;

// Any UUID version (v4 today, v7 tomorrow), lowercase only: one grant, one spelling.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `value` is a lowercase 36-character UUID. */
export function isGrantId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Which Mosaic field an extension carries. */
export type MosaicField = 'grantId' | 'subjectUserId';

/**
 * How to encode and decode one Mosaic extension. `decodeValue` throws the typed EXT_* errors;
 * `encodeValue` throws ISSUE_INVALID (a bad value at issuance is the caller's mistake).
 */
export interface MosaicExtensionDefinition {
  readonly oid: string;
  readonly field: MosaicField;
  /** Human name for messages: `grant id`, `subject user id`. */
  readonly label: string;
  readonly maxBytes: number;
  decodeValue(extnValue: Uint8Array): string;
  encodeValue(value: string): Uint8Array;
  /** The @peculiar/x509 class: `new extensionClass(value)` or `new extensionClass(extensionDer)`. */
  readonly extensionClass: MosaicExtensionClass;
}

/** Constructor shared by both extension classes. */
export type MosaicExtensionClass = new (source: Uint8Array | ArrayBuffer | string) => MosaicExtension;

function decodeStrict(extnValue: Uint8Array, label: string, maxBytes: number): string {
  const result = decodeUtf8String(extnValue, maxBytes);
  if (result.ok) return result.value;
  switch (result.reason) {
    case 'bad-tag':
      throw new ExtBadTagError(label, result.detail);
    case 'bad-length':
      throw new ExtBadLengthError(label, result.detail);
    case 'trailing-bytes':
      throw new ExtTrailingBytesError(label, String(result.count));
    case 'bad-utf8':
      throw new ExtBadUtf8Error(label);
    case 'empty':
      throw new ExtEmptyError(label);
    case 'too-long':
      throw new ExtTooLongError(label, String(result.length), String(result.max));
  }
}

/** Decode the grant id extension value (a DER UTF8String holding a lowercase UUID). */
export function decodeGrantIdValue(extnValue: Uint8Array): string {
  const value = decodeStrict(extnValue, 'grant id', GRANT_ID_BYTES);
  if (!UUID.test(value)) throw new ExtBadGrantIdError();
  return value;
}

/** Decode the subject user id extension value (a non-empty DER UTF8String). */
export function decodeSubjectUserIdValue(extnValue: Uint8Array): string {
  return decodeStrict(extnValue, 'subject user id', MAX_SUBJECT_USER_ID_BYTES);
}

/** Encode a grant id as the extension value. */
export function encodeGrantIdValue(grantId: string): Uint8Array {
  if (!isGrantId(grantId)) throw new IssueInvalidError('grantId must be a lowercase 36-character UUID');
  return encodeUtf8String(grantId, GRANT_ID_BYTES);
}

/** Encode a subject user id as the extension value. */
export function encodeSubjectUserIdValue(subjectUserId: string): Uint8Array {
  if (typeof subjectUserId !== 'string' || subjectUserId.length === 0) throw new IssueInvalidError('subjectUserId must be a non-empty string');
  if (!isWellFormedUnicode(subjectUserId)) throw new IssueInvalidError('subjectUserId contains an unpaired surrogate');
  const bytes = Buffer.byteLength(subjectUserId, 'utf8');
  if (bytes > MAX_SUBJECT_USER_ID_BYTES) throw new IssueInvalidError(`subjectUserId is ${bytes} UTF-8 bytes; the limit is ${MAX_SUBJECT_USER_ID_BYTES}`);
  return encodeUtf8String(subjectUserId, MAX_SUBJECT_USER_ID_BYTES);
}

/** Base of both extension classes: a non-critical extension with one decoded string. */
export abstract class MosaicExtension extends x509.Extension {
  /** The decoded value (grant id or subject user id). */
  abstract readonly text: string;
  abstract readonly field: MosaicField;
}

function checkParsed(ext: x509.Extension, oid: string, label: string): void {
  if (ext.type !== oid) throw new TypeError(`expected extension ${oid}, got ${ext.type}`);
  if (ext.critical) throw new ExtCriticalError(label, oid);
}

/**
 * The grant id extension.
 * @example
 * new MosaicGrantIdExtension('0b8f6a3e-2a1c-4a53-9d8e-1f2a3b4c5d6e');  // typed value
 * new MosaicGrantIdExtension(extensionDer);                             // from DER
 */
export class MosaicGrantIdExtension extends MosaicExtension {
  static override NAME = 'Mosaic Grant ID';
  readonly grantId: string;
  readonly field = 'grantId' as const;

  /** From a DER `Extension` or a grant id. */
  constructor(source: Uint8Array | ArrayBuffer | string) {
    if (typeof source === 'string') {
      super(Oid.mosaicGrantId, false, toArrayBuffer(encodeGrantIdValue(source)));
    } else {
      super(source instanceof Uint8Array ? toArrayBuffer(source) : source);
      checkParsed(this, Oid.mosaicGrantId, 'grant id');
    }
    this.grantId = decodeGrantIdValue(new Uint8Array(this.value));
  }

  get text(): string {
    return this.grantId;
  }
}

/**
 * The subject user id extension.
 * @example
 * new MosaicSubjectUserIdExtension('alice');
 */
export class MosaicSubjectUserIdExtension extends MosaicExtension {
  static override NAME = 'Mosaic Subject User ID';
  readonly subjectUserId: string;
  readonly field = 'subjectUserId' as const;

  /** From a DER `Extension` or a subject user id. */
  constructor(source: Uint8Array | ArrayBuffer | string) {
    if (typeof source === 'string') {
      super(Oid.mosaicSubjectUserId, false, toArrayBuffer(encodeSubjectUserIdValue(source)));
    } else {
      super(source instanceof Uint8Array ? toArrayBuffer(source) : source);
      checkParsed(this, Oid.mosaicSubjectUserId, 'subject user id');
    }
    this.subjectUserId = decodeSubjectUserIdValue(new Uint8Array(this.value));
  }

  get text(): string {
    return this.subjectUserId;
  }
}

/** The grant id definition. */
export const grantIdExtension: MosaicExtensionDefinition = Object.freeze({
  oid: Oid.mosaicGrantId,
  field: 'grantId',
  label: 'grant id',
  maxBytes: GRANT_ID_BYTES,
  decodeValue: decodeGrantIdValue,
  encodeValue: encodeGrantIdValue,
  extensionClass: MosaicGrantIdExtension,
});

/** The subject user id definition. */
export const subjectUserIdExtension: MosaicExtensionDefinition = Object.freeze({
  oid: Oid.mosaicSubjectUserId,
  field: 'subjectUserId',
  label: 'subject user id',
  maxBytes: MAX_SUBJECT_USER_ID_BYTES,
  decodeValue: decodeSubjectUserIdValue,
  encodeValue: encodeSubjectUserIdValue,
  extensionClass: MosaicSubjectUserIdExtension,
});

/** Something extension classes can be registered with (@peculiar/x509's `ExtensionFactory`). */
export interface ExtensionFactoryLike {
  register(id: string, type: unknown): void;
}

/**
 * An explicit OID → definition table. Lookups are a Map get, so the per-socket decoder can
 * dispatch through it without building any object.
 */
export class MosaicExtensionRegistry {
  private readonly byOid = new Map<string, MosaicExtensionDefinition>();

  /** A registry holding `definitions`; a second definition for one OID is an error. */
  constructor(definitions: Iterable<MosaicExtensionDefinition>) {
    for (const def of definitions) {
      if (this.byOid.has(def.oid)) throw new TypeError(`extension ${def.oid} is defined twice`);
      this.byOid.set(def.oid, def);
    }
  }

  /** The definition for `oid`, if any. */
  get(oid: string): MosaicExtensionDefinition | undefined {
    return this.byOid.get(oid);
  }

  /** Every definition, in registration order. */
  definitions(): MosaicExtensionDefinition[] {
    return [...this.byOid.values()];
  }

  /**
   * Build the extension class for a DER `Extension` or an @peculiar/x509 `Extension`.
   * @throws TypeError when the OID is not in this registry; EXT_* errors for a bad value
   */
  parse(extension: Uint8Array | x509.Extension): MosaicExtension {
    const raw = extension instanceof Uint8Array ? extension : new Uint8Array(extension.rawData);
    const type = extension instanceof Uint8Array ? new x509.Extension(toArrayBuffer(raw)).type : extension.type;
    const def = this.byOid.get(type);
    if (!def) throw new TypeError(`extension ${type} is not a registered Mosaic extension`);
    return new def.extensionClass(raw);
  }

  /** The extension object for `field` holding `value` (validated; ISSUE_INVALID when not). */
  create(field: MosaicField, value: string): MosaicExtension {
    const def = this.definitions().find((d) => d.field === field);
    if (!def) throw new TypeError(`no Mosaic extension carries ${field}`);
    return new def.extensionClass(value);
  }

  /**
   * Opt in to @peculiar/x509 building these classes when it parses certificates. Explicit by
   * design: the library's factory is process-global, so only an application may decide this.
   * @example
   * mosaicExtensions.registerWith(x509.ExtensionFactory);
   */
  registerWith(factory: ExtensionFactoryLike): void {
    for (const def of this.byOid.values()) factory.register(def.oid, def.extensionClass);
  }
}

/** The registry of the two Mosaic extensions. A plain value: creating it touches nothing global. */
export const mosaicExtensions = new MosaicExtensionRegistry([grantIdExtension, subjectUserIdExtension]);
