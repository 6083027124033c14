/**
 * Logged feedback as training data. The weekly snapshot is the base ratings file (u.data,
 * tab-separated `user item rating timestamp`) with the interactions logged since the last run
 * merged in, one line per (user, item):
 *
 * - explicit feedback: a `rating` event is the rating (rounded to 1..5);
 * - implicit feedback, as a confidence on the same scale: a `purchase` is 5, a `click` 4, a
 *   `watch_time` 5 from 30 minutes, 4 from 5 minutes, else 3.
 *
 * For one (user, item), the latest explicit rating wins over any implicit signal, and among
 * implicit signals the strongest; a logged pair replaces the base line of the same pair (newer
 * evidence of the same preference). Interactions whose user or item id is not a non-negative
 * integer (the only ids u.data can hold) or that name no item are skipped and counted.
 */

export const FEEDBACK_TYPES = ['rating', 'click', 'purchase', 'watch_time'] as const;
export type FeedbackType = (typeof FEEDBACK_TYPES)[number];

/** One interaction as the events path logged it. */
export interface LoggedInteraction {
  eventId: string;
  eventType: FeedbackType;
  userId: string;
  itemId?: string;
  value?: number;
  receivedAtMs: number;
}

export interface MergeSummary {
  /** Lines of the base file. */
  baseRatings: number;
  /** Interactions read from the log, by type. */
  logged: Record<FeedbackType, number>;
  /** Interactions that could not become a line (no item, or ids u.data cannot hold). */
  skipped: number;
  /** Distinct (user, item) pairs the logged interactions produced. */
  loggedPairs: number;
  /** Of those, pairs that replaced a base line. */
  replacedBaseLines: number;
  /** Lines of the snapshot. */
  ratings: number;
}

const isFeedback = (type: string): type is FeedbackType => (FEEDBACK_TYPES as readonly string[]).includes(type);
const NUMERIC_ID = /^[0-9]+$/;

/** The 1..5 strength of one interaction (see the module comment). */
export function feedbackStrength(interaction: Pick<LoggedInteraction, 'eventType' | 'value'>): number {
  switch (interaction.eventType) {
    case 'rating':
      return Math.min(5, Math.max(1, Math.round(interaction.value ?? 3)));
    case 'purchase':
      return 5;
    case 'click':
      return 4;
    case 'watch_time': {
      const seconds = interaction.value ?? 0;
      return seconds >= 1800 ? 5 : seconds >= 300 ? 4 : 3;
    }
  }
}

/** Whether an event type is feedback the snapshot trains on (impressions are not). */
export const isTrainingFeedback = (eventType: string): eventType is FeedbackType => isFeedback(eventType);

/**
 * The snapshot's ratings file: the base lines, the logged pairs replacing or adding lines.
 * Duplicated interactions (the same event id read twice, e.g. logged on two days by a retry)
 * count once.
 */
export function mergeLoggedFeedback(baseText: string, interactions: readonly LoggedInteraction[]): { text: string; summary: MergeSummary } {
  const logged: Record<FeedbackType, number> = { rating: 0, click: 0, purchase: 0, watch_time: 0 };
  let skipped = 0;
  const seen = new Set<string>();
  const pairs = new Map<string, { explicit?: { value: number; at: number }; implicit: number; at: number }>();
  for (const interaction of interactions) {
    if (seen.has(interaction.eventId)) continue;
    seen.add(interaction.eventId);
    logged[interaction.eventType]++;
    if (interaction.itemId === undefined || !NUMERIC_ID.test(interaction.userId) || !NUMERIC_ID.test(interaction.itemId)) {
      skipped++;
      continue;
    }
    const key = `${interaction.userId}\t${interaction.itemId}`;
    const pair = pairs.get(key) ?? { implicit: 0, at: 0 };
    const strength = feedbackStrength(interaction);
    if (interaction.eventType === 'rating') {
      if (!pair.explicit || interaction.receivedAtMs >= pair.explicit.at) pair.explicit = { value: strength, at: interaction.receivedAtMs };
    } else {
      pair.implicit = Math.max(pair.implicit, strength);
    }
    pair.at = Math.max(pair.at, interaction.receivedAtMs);
    pairs.set(key, pair);
  }
  const lines: string[] = [];
  let baseRatings = 0;
  let replacedBaseLines = 0;
  for (const line of baseText.split('\n')) {
    if (line.trim() === '') continue;
    baseRatings++;
    const [user, item] = line.split('\t');
    if (pairs.has(`${user}\t${item}`)) replacedBaseLines++;
    else lines.push(line);
  }
  for (const [key, pair] of pairs) {
    const rating = pair.explicit?.value ?? pair.implicit;
    lines.push(`${key}\t${rating}\t${Math.floor(pair.at / 1000)}`);
  }
  return {
    text: `${lines.join('\n')}\n`,
    summary: { baseRatings, logged, skipped, loggedPairs: pairs.size, replacedBaseLines, ratings: lines.length },
  };
}
