/** A file's type comes from its bytes: binary signatures, text classified by what a browser could run in it, everything else opaque. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { isSafeInlineImage, SNIFF_BYTES, sniffContentType, typeAllowed } from '../../src/files/sniff.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const sniffText = (text: string) => sniffContentType(utf8(text), true);
const canvas = () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#36c' } });

/** A stored ZIP of one file, by hand: local header, data, central directory, end record. */
function zip(name: string, data: Buffer): Buffer {
  const fileName = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(10, 4);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(10, 4);
  central.writeUInt16LE(10, 6);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + fileName.length, 12);
  end.writeUInt32LE(30 + fileName.length + data.length, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

/** Deterministic noise (xorshift32): the same bytes every run. */
function noise(length: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('sniffContentType', () => {
  it('detects binary formats by their bytes alone', async () => {
    assert.equal(await sniffContentType(await canvas().png().toBuffer(), true), 'image/png');
    assert.equal(await sniffContentType(await canvas().jpeg().toBuffer(), true), 'image/jpeg');
    assert.equal(await sniffContentType(await canvas().gif().toBuffer(), true), 'image/gif');
    assert.equal(await sniffContentType(await canvas().webp().toBuffer(), true), 'image/webp');
    assert.equal(await sniffContentType(utf8('%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n'), true), 'application/pdf');
    assert.equal(await sniffContentType(zip('notes.txt', Buffer.from('hello')), true), 'application/zip');
  });

  it('detects a signature from the head of a longer file', async () => {
    const big = Buffer.concat([await canvas().png().toBuffer(), Buffer.from(noise(20_000))]);
    assert.equal(await sniffContentType(big.subarray(0, SNIFF_BYTES), false), 'image/png');
  });

  it('keeps the binary type of a signature followed by markup (the image is re-encoded before it is served)', async () => {
    const polyglot = Buffer.concat([await canvas().png().toBuffer(), Buffer.from('<html><script>alert(1)</script></html>')]);
    assert.equal(await sniffContentType(polyglot, true), 'image/png');
  });

  it('calls HTML text/html, wherever a tag is and however it is written', async () => {
    for (const page of [
      '<!DOCTYPE html><html><body>hi</body></html>',
      '<html><p>hi</p></html>',
      ' \n\t <html>',
      '\uFEFF<!doctype HTML>\n<title>x</title>',
      '<!-- a comment first -->\n<div>x</div>',
      '<HTML><BODY ONLOAD="alert(1)">',
      '<SCRIPT>alert(1)</SCRIPT>',
      'Dear reader,\nthis is a letter.\n\n<script>alert(1)</script>\nRegards',
      'just text then <img/src=x onerror=alert(1)>',
      '<iframe src="https://example.com"></iframe>',
      'x <a href="javascript:alert(1)">click</a>',
      '<svg><script>alert(1)</script></svg> after some text'.replace(/^/, 'text first: '),
    ]) {
      assert.equal(await sniffText(page), 'text/html', page);
    }
  });

  it('calls HTML text/html even behind a weak binary signature (a family wildcard never lets it in)', async () => {
    // "ID3" is MP3's tag header: file-type says audio/mpeg, and audio/* is allowed by default.
    assert.equal(await sniffText('ID3 <script>alert(1)</script>'), 'text/html');
  });

  it('calls HTML in UTF-16 (with its BOM) text/html', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<html><script>alert(1)</script>', 'utf16le')]);
    assert.equal(await sniffContentType(le, true), 'text/html');
    assert.equal(await sniffContentType(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('plain words', 'utf16le')]), true), 'text/plain');
  });

  it('calls SVG image/svg+xml, script and all, and other XML application/xml', async () => {
    assert.equal(await sniffText('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), 'image/svg+xml');
    assert.equal(
      await sniffText(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!-- drawn by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg onload="alert(1)"/>',
      ),
      'image/svg+xml',
    );
    assert.equal(await sniffText('<?xml version="1.0"?>\n<feed><entry/></feed>'), 'application/xml');
    // XML that carries an HTML tag is refused as HTML whatever else it is.
    assert.equal(await sniffText('<?xml version="1.0"?>\n<x:html xmlns:x="http://www.w3.org/1999/xhtml"><script>alert(1)</script></x:html>'), 'text/html');
  });

  it('calls other text text/plain, or application/json when the whole file parses', async () => {
    assert.equal(await sniffText('Hello, world.\r\nNaïve café, 日本語, emoji 👋🏽\n'), 'text/plain');
    assert.equal(await sniffText('\uFEFFwith a BOM'), 'text/plain');
    assert.equal(await sniffText('a < b and c > d, 2 <3'), 'text/plain');
    assert.equal(await sniffText('col1,col2\n1,2\n'), 'text/plain');
    assert.equal(await sniffText(''), 'text/plain');
    assert.equal(await sniffText('{"a": [1, 2, {"b": null}]}'), 'application/json');
    assert.equal(await sniffContentType(utf8('{"a": [1, 2'), false), 'text/plain');
  });

  it('accepts a head cut inside a multi-byte character, but not a whole file that ends in one', async () => {
    const bytes = utf8(`${'words '.repeat(10)}👋`);
    const cut = bytes.subarray(0, bytes.length - 2);
    assert.equal(await sniffContentType(cut, false), 'text/plain');
    assert.equal(await sniffContentType(cut, true), 'application/octet-stream');
  });

  it('calls bytes that are not text and have no signature application/octet-stream', async () => {
    assert.equal(await sniffContentType(noise(SNIFF_BYTES), false), 'application/octet-stream');
    assert.equal(await sniffText('text with a NUL\u0000 in it'), 'application/octet-stream');
    assert.equal(await sniffText(`mostly text${'\u0001'.repeat(5)}`), 'application/octet-stream');
    assert.equal(await sniffContentType(new Uint8Array([0xc3, 0x28, 0x41]), true), 'application/octet-stream');
  });
});

describe('typeAllowed and isSafeInlineImage', () => {
  const list = ['image/png', 'audio/*', 'text/plain'];

  it('allows exact types and whole families, ignoring case and parameters', () => {
    assert.equal(typeAllowed('image/png', list), true);
    assert.equal(typeAllowed('IMAGE/PNG', list), true);
    assert.equal(typeAllowed('text/plain; charset=utf-8', list), true);
    assert.equal(typeAllowed('audio/mpeg', list), true);
    assert.equal(typeAllowed('audio/ogg', list), true);
  });

  it('refuses the rest', () => {
    assert.equal(typeAllowed('image/jpeg', list), false);
    assert.equal(typeAllowed('text/html', list), false);
    assert.equal(typeAllowed('image/svg+xml', list), false);
    assert.equal(typeAllowed('audio', list), false);
    assert.equal(typeAllowed('', list), false);
    assert.equal(typeAllowed('video/mp4', ['image/*']), false);
  });

  it('shows only raster formats inline', () => {
    for (const type of ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']) assert.equal(isSafeInlineImage(type), true, type);
    for (const type of ['image/svg+xml', 'text/html', 'image/bmp', 'image/tiff', 'application/pdf']) assert.equal(isSafeInlineImage(type), false, type);
  });
});
