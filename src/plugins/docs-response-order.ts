/**
 * Swagger UI plugins for /docs, sent to the browser as their source text: @fastify/swagger-ui writes the functions of
 * `uiConfig` into its initializer script. So each is self-contained (nothing outside its body exists there) and plain
 * JavaScript once its types are stripped.
 */

/** The little of Swagger UI's plugin system these use. */
interface SwaggerSystem {
  React: { createElement(type: unknown, props: object | null, ...children: unknown[]): unknown };
}
interface ResponseBodyProps {
  content?: unknown;
  contentType?: string;
  getComponent(name: string, container?: boolean): unknown;
}
type Component = (props: ResponseBodyProps) => unknown;

/** Swagger UI's own, loaded before the initializer; @fastify/swagger-ui's default plugins are replaced by ours. */
declare const SwaggerUIBundle: { plugins: { DownloadUrl(system: SwaggerSystem): object } };

/** The plugin @fastify/swagger-ui configures by default, which a `plugins` list of our own would drop. */
export const downloadUrl = (system: SwaggerSystem): object => SwaggerUIBundle.plugins.DownloadUrl(system);

/**
 * Swagger UI shows a JSON answer as JSON.stringify(JSON.parse(body), null, 2), which lists integer-like keys first:
 * the activations of /forward and the maps of /schema, written by the server in output and id order ("10" before "9"),
 * were shown in another. Such an answer is shown as the server wrote it, indented; any other as Swagger UI shows it.
 */
export const keepResponseOrder = (system: SwaggerSystem): object => ({
  wrapComponents: {
    responseBody: (Original: Component) => (props: ResponseBodyProps) => {
      const text = props.content;
      if (typeof text !== 'string' || !/json/i.test(props.contentType ?? '')) return system.React.createElement(Original, props);
      let reparsed: string;
      try {
        reparsed = JSON.stringify(JSON.parse(text));
      } catch {
        return system.React.createElement(Original, props);
      }
      if (reparsed === text) return system.React.createElement(Original, props);
      // Indented as JSON.stringify(…, null, 2) would, from the text itself.
      let shown = '';
      let depth = 0;
      for (let at = 0; at < text.length; at++) {
        const char = text[at]!;
        if (char === '"') {
          let end = at + 1;
          while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
          shown += text.slice(at, end + 1);
          at = end;
        } else if (char === '{' || char === '[') {
          const close = char === '{' ? '}' : ']';
          const next = text.slice(at + 1).trimStart();
          if (next.startsWith(close)) {
            shown += char + close;
            at = text.indexOf(close, at + 1);
          } else {
            depth++;
            shown += `${char}\n${'  '.repeat(depth)}`;
          }
        } else if (char === '}' || char === ']') {
          depth--;
          shown += `\n${'  '.repeat(depth)}${char}`;
        } else if (char === ',') {
          shown += `,\n${'  '.repeat(depth)}`;
        } else if (char === ':') {
          shown += ': ';
        } else if (!/\s/.test(char)) {
          shown += char;
        }
      }
      // As Swagger UI's ResponseBody renders a JSON answer, with this text.
      const highlighted = system.React.createElement(props.getComponent('HighlightCode', true), { language: 'json', downloadable: true, fileName: `response_${Date.now()}.json`, canCopy: true }, shown);
      return system.React.createElement('div', null, system.React.createElement('h5', null, 'Response body'), highlighted);
    },
  },
});
