import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstDuplicateKey } from '../../lambdas/common/http.ts';

describe('firstDuplicateKey', () => {
  it.each([
    ['a flat object', '{"a":1,"b":2}'],
    ['the same key in sibling objects', '{"events":[{"a":1},{"a":2}]}'],
    ['the same key at two depths', '{"a":{"a":{"a":1}}}'],
    ['a value that spells a key', '{"a":"b","b":"a, \\"a\\":"}'],
    ['keys that differ only after an escape', '{"a\\"b":1,"a\\\\b":2}'],
    ['an empty object and an array of scalars', '{"a":{},"b":[1,"a",{}],"c":null}'],
    ['no object at all', '["a","a"]'],
    ['NFC and NFD forms (distinct keys, as JSON.parse sees them)', '{"\u00e9":1,"e\u0301":2}'],
  ])('finds none in %s', (_case, text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(firstDuplicateKey(text)).toBeUndefined();
  });

  it('finds none in any JSON that JSON.stringify wrote (it never repeats a key)', () => {
    fc.assert(fc.property(fc.json(), (text) => firstDuplicateKey(text) === undefined));
  });

  it.each([
    ['a top-level key', '{"event_type":"click","event_type":"purchase"}', ['event_type']],
    ['a key of the second event of a batch', '{"events":[{"u":1},{"u":1,"v":2,"u":3}]}', ['events', 1, 'u']],
    ['a nested key after empty containers', '{"a":{},"b":[[],{}],"c":{"d":[1,{"x":1,"x":2}]}}', ['c', 'd', 1, 'x']],
    ['a key written once plainly and once escaped', '{"a":1,"\\u0061":2}', ['a']],
    ['a key after whitespace and newlines', '{ "a" : 1 ,\n  "a" : 2 }', ['a']],
  ])('names %s', (_case, text, path) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(firstDuplicateKey(text)).toEqual(path);
  });
});
