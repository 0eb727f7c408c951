// Card files in a per-user directory (default ~/.openclm/cards): <card id>.json beside the
// directory's device.key, each written atomically with mode 0600.
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { isTempFileName, writeFileAtomic } from "./atomic-write.js";
import { parseCardFile, serializeCardFile } from "./card-file.js";
import { DEVICE_KEY_FILE, DeviceKey, loadOrCreateDeviceKey } from "./device-key.js";
import { CardError, CardNotFoundError } from "./errors.js";
import { acquireLock, type ReleaseLock } from "./lock.js";
import { VirtualSmartCard, type CreateCardOptions } from "./virtual-card.js";

export function defaultCardDir(): string {
  return process.env.OPENCLM_CARD_DIR || join(homedir(), ".openclm", "cards");
}

export interface OpenedCard {
  card: VirtualSmartCard;
  path: string;
}

export interface LockedCard extends OpenedCard {
  release: ReleaseLock;
}

export interface CardListEntry {
  path: string;
  card?: VirtualSmartCard;
  error?: string;
}

const CARD_FILE_SUFFIX = ".json";

function normaliseCardId(ref: string): string {
  return ref.trim().replace(/^\{|\}$/g, "").toLowerCase();
}

export class CardStore {
  readonly dir: string;
  readonly #deviceKeys = new Map<string, DeviceKey>();

  constructor(dir: string = defaultCardDir()) {
    this.dir = resolve(dir);
  }

  pathFor(cardId: string): string {
    return join(this.dir, `${cardId}${CARD_FILE_SUFFIX}`);
  }

  /** The device key of the directory a card file lives in (cards outside --card-dir work too). */
  #deviceKeyFor(cardPath: string, create: boolean): DeviceKey {
    const dir = dirname(cardPath);
    let key = this.#deviceKeys.get(dir);
    if (!key) {
      if (!create && !existsSync(join(dir, DEVICE_KEY_FILE))) {
        throw new CardError(`${join(dir, DEVICE_KEY_FILE)} is missing: the card's keys cannot be decrypted without it`);
      }
      key = loadOrCreateDeviceKey(dir);
      this.#deviceKeys.set(dir, key);
    }
    return key;
  }

  #persister(path: string) {
    return (data: Parameters<typeof serializeCardFile>[0]) => writeFileAtomic(path, serializeCardFile(data), 0o600);
  }

  create(opts: CreateCardOptions): OpenedCard {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const deviceKey = this.#deviceKeyFor(join(this.dir, "x"), true);
    let path = "";
    const card = VirtualSmartCard.create(deviceKey, (data) => {
      path ||= this.pathFor(data.cardId);
      this.#persister(path)(data);
    }, opts);
    return { card, path: this.pathFor(card.cardId) };
  }

  #load(path: string): VirtualSmartCard {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new CardNotFoundError(`no card file ${path}`);
      throw err;
    }
    const data = parseCardFile(text);
    return new VirtualSmartCard(data, this.#deviceKeyFor(path, false), this.#persister(path));
  }

  /** Card files in the directory, unreadable ones reported rather than hidden. */
  list(): CardListEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith(CARD_FILE_SUFFIX) && !isTempFileName(n) && !n.startsWith("."))
      .sort()
      .map((n) => {
        const path = join(this.dir, n);
        try {
          return { path, card: this.#load(path) };
        } catch (err) {
          return { path, error: (err as Error).message };
        }
      });
  }

  /** A card given as a file path, a card id (braces optional) or an unambiguous id prefix. */
  resolve(ref: string): string {
    const trimmed = ref.trim();
    if (trimmed.includes("/") || trimmed.endsWith(CARD_FILE_SUFFIX)) {
      const path = resolve(trimmed);
      if (!existsSync(path)) throw new CardNotFoundError(`no card file ${path}`);
      return path;
    }
    const id = normaliseCardId(trimmed);
    const exact = this.pathFor(id);
    if (existsSync(exact)) return exact;
    const matches = this.list().filter((e) => basename(e.path).startsWith(id));
    if (matches.length === 1) return matches[0]!.path;
    if (matches.length > 1) throw new CardError(`card id prefix "${ref}" is ambiguous (${matches.length} cards)`);
    throw new CardNotFoundError(`no card "${ref}" in ${this.dir}`);
  }

  open(ref: string): OpenedCard {
    const path = this.resolve(ref);
    return { card: this.#load(path), path };
  }

  /** Opens the card for exclusive use; the lock is taken before reading so no update is lost. */
  openLocked(ref: string): LockedCard {
    const path = this.resolve(ref);
    const release = acquireLock(`${path}.lock`, `card ${basename(path, CARD_FILE_SUFFIX)}`);
    try {
      return { card: this.#load(path), path, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Locks a card just created by this process, before anything else can see it half-enrolled. */
  lockNew(opened: OpenedCard): LockedCard {
    const release = acquireLock(`${opened.path}.lock`, `card ${opened.card.cardId}`);
    return { ...opened, release };
  }

  remove(path: string): void {
    unlinkSync(path);
  }
}
