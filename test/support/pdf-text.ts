/**
 * The text of a PDF, page by page, as pdf.js extracts it: for tests that check what a served or
 * rendered PDF says. Works in unit and e2e specs (Jest's ESM VM modules) and in plain Node.
 *
 * How pdf.js is loaded:
 * - the legacy build (`pdfjs-dist/legacy/build/pdf.mjs`), the one meant for Node;
 * - no worker thread: pdf.js finds no `Worker` in Node and falls back to a "fake worker" running
 *   in the same thread. Its default way of getting one is `import(GlobalWorkerOptions.workerSrc)`
 *   from inside pdf.mjs, which needs a path relative to node_modules; instead we import the
 *   worker module ourselves and hand it over as `globalThis.pdfjsWorker`, the hook pdf.js checks
 *   first (`PDFWorker.#mainThreadWorkerMessageHandler`). Plain `import()`s of a package, so Jest
 *   resolves them like any other module;
 * - `useSystemFonts: false, disableFontFace: true`: nothing is rendered, text extraction needs no
 *   fonts; `isEvalSupported: false`: no code generation from PDF content; `verbosity: 0`: no
 *   "Setting up fake worker" warnings in test output.
 * The package ships no type declarations here (its `types/` folder is absent), so the modules
 * are imported through a variable specifier and given the small interface below.
 */

interface TextItem {
  str?: string;
  hasEOL?: boolean;
}

interface PdfPage {
  getTextContent(): Promise<{ items: TextItem[] }>;
  cleanup(): void;
}

interface PdfDocument {
  numPages: number;
  getPage(pageNumber: number): Promise<PdfPage>;
  destroy(): Promise<void>;
}

interface PdfJs {
  getDocument(source: { data: Uint8Array; useSystemFonts: boolean; disableFontFace: boolean; isEvalSupported: boolean; verbosity: number }): {
    promise: Promise<PdfDocument>;
  };
}

const PDFJS = 'pdfjs-dist/legacy/build/pdf.mjs';
const PDFJS_WORKER = 'pdfjs-dist/legacy/build/pdf.worker.mjs';

let loading: Promise<PdfJs> | undefined;

function loadPdfJs(): Promise<PdfJs> {
  loading ??= (async () => {
    const holder = globalThis as { pdfjsWorker?: unknown };
    holder.pdfjsWorker ??= await import(PDFJS_WORKER);
    return (await import(PDFJS)) as PdfJs;
  })();
  return loading;
}

/**
 * One string per page: the page's text items joined by spaces (a space between two items, a
 * newline where pdf.js reports an end of line), so "Balance due" and "38.00 EUR" drawn as two
 * items read "Balance due 38.00 EUR".
 */
export async function pdfText(bytes: Uint8Array): Promise<string[]> {
  const pdfjs = await loadPdfJs();
  // A copy: pdf.js takes ownership of (and may detach) the buffer it is given.
  const document = await pdfjs.getDocument({ data: new Uint8Array(bytes), useSystemFonts: false, disableFontFace: true, isEvalSupported: false, verbosity: 0 }).promise;
  try {
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number += 1) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      pages.push(
        content.items
          .filter((item) => typeof item.str === 'string')
          .map((item) => `${item.str}${item.hasEOL ? '\n' : ' '}`)
          .join('')
          .replace(/[ \t]+/g, ' ')
          .replace(/ ?\n ?/g, '\n')
          .trim(),
      );
      page.cleanup();
    }
    return pages;
  } finally {
    await document.destroy();
  }
}
