/**
 * The bounded history of finished tasks: ids in the order their tasks finished, at most `retain` of them.
 * Adding one beyond the bound hands back the oldest, for the manager to forget.
 *
 * @internal
 */
import * as MutableList from "effect/MutableList"

/** @internal */
export interface Retention<A> {
  readonly retain: number
  readonly finished: MutableList.MutableList<A>
}

/** @internal */
export const make = <A>(retain: number): Retention<A> => ({
  retain: Math.max(0, retain),
  finished: MutableList.make()
})

/** Records a finished task; returns the one that falls out of the history, if any. @internal */
export const add = <A>(retention: Retention<A>, id: A): A | undefined => {
  if (retention.retain === 0) return id
  MutableList.append(retention.finished, id)
  if (retention.finished.length <= retention.retain) return undefined
  const evicted = MutableList.take(retention.finished)
  return evicted === MutableList.Empty ? undefined : evicted
}
