/** An item the database refused, with its reason. */
export interface Refusal<T> {
  item: T;
  reason: string;
}

/**
 * Applies `items` in one call of `apply` (one transaction). When the database refuses a value of the
 * chunk (`refusal` returns its reason; an infrastructure error is rethrown untouched, so the chunk is
 * redelivered as before), the failed transaction has rolled back: the chunk is split in halves and
 * each is applied on its own, down to the single items the database refuses. Those come back with
 * their reasons for the DLQ; everything else is applied. A chunk with one bad item costs about
 * 2·log2(n) extra transactions, and none at all while nothing is refused.
 */
export async function applyIsolatingRefusals<T, R>(
  items: readonly T[],
  apply: (items: readonly T[]) => Promise<R[]>,
  refusal: (error: unknown) => string | null,
): Promise<{ results: R[]; refused: Refusal<T>[] }> {
  if (items.length === 0) return { results: [], refused: [] };
  try {
    return { results: await apply(items), refused: [] };
  } catch (error) {
    const reason = refusal(error);
    if (reason === null) throw error;
    if (items.length === 1) return { results: [], refused: [{ item: items[0], reason }] };
    const middle = Math.ceil(items.length / 2);
    const first = await applyIsolatingRefusals(items.slice(0, middle), apply, refusal);
    const second = await applyIsolatingRefusals(items.slice(middle), apply, refusal);
    return { results: [...first.results, ...second.results], refused: [...first.refused, ...second.refused] };
  }
}
