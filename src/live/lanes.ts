import { pythonStr, type AttributeValue } from '../scoring/python-float.js';
import { shortened } from '../scoring/quote-value.js';

const MAX_LANE_CHARS = 128;

export type Attributes = Readonly<Record<string, AttributeValue>>;

/** Own properties only: an attribute called "constructor" must not find Object.prototype's. */
function own(attributes: Attributes | null | undefined, key: string): AttributeValue | undefined {
  return attributes != null && Object.hasOwn(attributes, key) ? attributes[key] : undefined;
}

/**
 * Which lane a case belongs to: the value of the lane attribute (latest wins, as for every case attribute), or
 * `(no <attribute>)` when the case has not supplied it; without a lane attribute, the process (scenario) name.
 */
export class LaneResolver {
  readonly missing: string;

  constructor(
    readonly attribute: string | undefined,
    readonly scenario: string,
  ) {
    this.missing = attribute === undefined ? scenario : `(no ${attribute})`;
  }

  /** The lane of a case from its merged attributes. */
  ofCase(attributes: Attributes | undefined): string {
    if (this.attribute === undefined) return this.scenario;
    return this.valueOf(own(attributes, this.attribute)) ?? this.missing;
  }

  /** The lane of a stateless trace: its trace attributes, else the latest event that carries the attribute. */
  ofTrace(attributes: Attributes | null | undefined, events: readonly { attributes?: Attributes | null | undefined }[]): string {
    if (this.attribute === undefined) return this.scenario;
    const value = this.valueOf(own(attributes, this.attribute));
    if (value !== undefined) return value;
    for (let i = events.length - 1; i >= 0; i--) {
      const value = this.valueOf(own(events[i]?.attributes, this.attribute));
      if (value !== undefined) return value;
    }
    return this.missing;
  }

  private valueOf(value: AttributeValue | undefined): string | undefined {
    if (value === undefined || value === null) return undefined;
    const text = pythonStr(value);
    if (text === '') return undefined;
    // Cut whole characters: half of an emoji made a lane no `lane=` filter can name, shown on the page as �.
    return text.length > MAX_LANE_CHARS ? shortened(text, MAX_LANE_CHARS - 1) : text;
  }
}
