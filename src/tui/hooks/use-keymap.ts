// One keyboard handler for the whole app: Ink's raw (input, key) pairs become key names such as
// "j", "G", "down", "enter", "esc", "tab", "pageDown", "ctrl+c", "space" before the app sees them.
import { useInput, type Key } from "ink";
import { useEffect, useRef, useState } from "react";

export interface KeyPress {
  /** Normalised name ("j", "G", "enter", "esc", "up", "pageDown", "ctrl+c", "space", "backspace"). */
  name: string;
  /** The typed text for printable keys ("" otherwise), for text inputs. */
  text: string;
}

export function keyName(input: string, key: Key): KeyPress {
  if (key.ctrl && input.length === 1) return { name: `ctrl+${input.toLowerCase()}`, text: "" };
  if (key.return) return { name: "enter", text: "" };
  if (key.escape) return { name: "esc", text: "" };
  if (key.tab) return { name: key.shift ? "shift+tab" : "tab", text: "" };
  if (key.upArrow) return { name: "up", text: "" };
  if (key.downArrow) return { name: "down", text: "" };
  if (key.leftArrow) return { name: "left", text: "" };
  if (key.rightArrow) return { name: "right", text: "" };
  if (key.pageUp) return { name: "pageUp", text: "" };
  if (key.pageDown) return { name: "pageDown", text: "" };
  if (key.home) return { name: "home", text: "" };
  if (key.end) return { name: "end", text: "" };
  if (key.backspace || key.delete) return { name: "backspace", text: "" };
  if (input === " ") return { name: "space", text: " " };
  return { name: input, text: input };
}

/** Control characters that arrive inside a multi-character read, by name. */
const CONTROL_KEYS: Readonly<Record<string, string>> = { "\r": "enter", "\n": "enter", "\t": "tab", "\u007f": "backspace", "\b": "backspace" };

/**
 * Key presses in one read: Ink hands over several typed characters at once ("jjp" from a fast
 * typist, key repeat, tmux send-keys, a paste, or text and Enter typed while the process was
 * busy), which are split into one press per character. A read with an escape sequence stays
 * one press (Ink has parsed it); other control characters in a longer read are dropped.
 */
export function keyPresses(input: string, key: Key): KeyPress[] {
  const chars = Array.from(input);
  if (chars.length <= 1 || key.ctrl || key.meta || input.includes("\u001b")) return [keyName(input, key)];
  return chars.flatMap((ch): KeyPress[] => {
    if (ch === " ") return [{ name: "space", text: " " }];
    const control = CONTROL_KEYS[ch];
    if (control !== undefined) return [{ name: control, text: "" }];
    return /[\u0000-\u001f]/.test(ch) ? [] : [{ name: ch, text: ch }];
  });
}

/**
 * Calls the latest `handler` for every key press, one press per render: each handler sees the
 * state the previous press produced, even when several arrive in one read.
 */
export function useKeymap(handler: (press: KeyPress) => void, active = true): void {
  const ref = useRef(handler);
  ref.current = handler;
  const pending = useRef<KeyPress[]>([]);
  const [tick, setTick] = useState(0);
  useInput(
    (input, key) => {
      pending.current.push(...keyPresses(input, key));
      setTick((t) => t + 1);
    },
    { isActive: active },
  );
  useEffect(() => {
    const next = pending.current.shift();
    if (next === undefined) return;
    ref.current(next);
    if (pending.current.length > 0) setTick((t) => t + 1);
  }, [tick]);
}
