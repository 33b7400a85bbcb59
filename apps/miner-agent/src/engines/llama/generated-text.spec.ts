import { describe, expect, it } from 'vitest';
import { GeneratedText, type Detokenize } from './generated-text.js';

// Tokens are indexes into these pieces; 90 and 91 are the two bytes of "é" (U+00E9).
const pieces: Record<number, string> = { 1: ' hello', 2: ' world', 3: ' END', 4: 'ING', 5: ' E' };
const detokenize: Detokenize = (tokens) => {
  const bytes: number[] = [];
  for (const token of tokens) {
    if (token === 90) bytes.push(0xc3);
    else if (token === 91) bytes.push(0xa9);
    else bytes.push(...Buffer.from(pieces[token] ?? '?'));
  }
  return Buffer.from(bytes).toString('utf8');
};

const run = (tokens: number[], stops: string[]) => {
  const text = new GeneratedText(detokenize, stops, []);
  const sent: string[] = [];
  let stopped = false;
  for (const token of tokens) {
    const step = text.push(token);
    if (step.text) sent.push(step.text);
    if (step.stopped) {
      stopped = true;
      break;
    }
  }
  if (!stopped) sent.push(text.finish());
  return { sent: sent.filter((piece) => piece !== ''), stopped };
};

describe('GeneratedText', () => {
  it('holds a character split over byte tokens until it is whole', () => {
    expect(run([1, 90, 91, 2], []).sent).toEqual([' hello', 'é', ' world']);
  });

  it('ends before a stop string, even one spread over tokens', () => {
    expect(run([1, 5, 4, 2], [' EING'])).toEqual({ sent: [' hello'], stopped: true });
    expect(run([1, 3, 2], [' END'])).toEqual({ sent: [' hello'], stopped: true });
  });

  it('releases held text once it cannot start a stop string any more', () => {
    // " E" could begin " END"; " EING" shows it does not.
    expect(run([1, 5, 4], [' END'])).toEqual({ sent: [' hello', ' EING'], stopped: false });
  });
});
