using System.Runtime.CompilerServices;

namespace GenSearch.Retrieval.Dense;

/// <summary>Which of two (score, id) pairs a <see cref="NodeHeap{TOrder}"/> keeps nearer its top.</summary>
internal interface IHeapOrder
{
    static abstract bool Above(float sa, int ia, float sb, int ib);
}

/// <summary>The best pair on top: higher score, then lower id (the candidate queue of a layer search).</summary>
internal struct BestOnTop : IHeapOrder
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Above(float sa, int ia, float sb, int ib) => sa > sb || (sa == sb && ia < ib);
}

/// <summary>The worst pair on top: lower score, then higher id (the bounded result list of a layer search).</summary>
internal struct WorstOnTop : IHeapOrder
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Above(float sa, int ia, float sb, int ib) => sa < sb || (sa == sb && ia > ib);
}

/// <summary>
/// A binary heap of (score, id) pairs in two growable arrays, reused across searches. The order is a
/// type parameter, so each comparison inlines; with ids breaking ties the heap's order is total and
/// pops come out the same whatever the push order.
/// </summary>
internal sealed class NodeHeap<TOrder> where TOrder : struct, IHeapOrder
{
    private float[] _scores = new float[64];
    private int[] _ids = new int[64];

    public int Count { get; private set; }
    public float TopScore => _scores[0];
    public int TopId => _ids[0];

    public void Clear() => Count = 0;

    public void Push(float score, int id)
    {
        if (Count == _scores.Length)
        {
            Array.Resize(ref _scores, Count * 2);
            Array.Resize(ref _ids, Count * 2);
        }
        int i = Count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 1;
            if (!TOrder.Above(score, id, _scores[parent], _ids[parent])) break;
            _scores[i] = _scores[parent];
            _ids[i] = _ids[parent];
            i = parent;
        }
        _scores[i] = score;
        _ids[i] = id;
    }

    /// <summary>Removes the top pair and returns it.</summary>
    public (float Score, int Id) Pop()
    {
        var top = (_scores[0], _ids[0]);
        int last = --Count;
        if (last > 0) SiftDown(_scores[last], _ids[last], last);
        return top;
    }

    private void SiftDown(float score, int id, int count)
    {
        int i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count) break;
            int right = child + 1;
            if (right < count && TOrder.Above(_scores[right], _ids[right], _scores[child], _ids[child])) child = right;
            if (!TOrder.Above(_scores[child], _ids[child], score, id)) break;
            _scores[i] = _scores[child];
            _ids[i] = _ids[child];
            i = child;
        }
        _scores[i] = score;
        _ids[i] = id;
    }
}
