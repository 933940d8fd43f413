using System.Runtime.CompilerServices;

namespace GenSearch.Retrieval.Dense;

/// <summary>
/// One bounded heap of the best <c>k</c> (score, id) pairs per row, all rows in two flat arrays.
/// Each heap keeps its worst pair on top, so a candidate is compared with one value and most
/// candidates of a long score row are rejected by that single comparison. "Better" is a higher
/// score, and on equal scores the lower id, so the result does not depend on the order of pushes.
/// </summary>
internal sealed class TopK
{
    private readonly int _k;
    private readonly float[] _scores; // [rows, k]
    private readonly int[] _ids;      // [rows, k]
    private readonly int[] _counts;   // [rows]

    public TopK(int rows, int k)
    {
        _k = k;
        _scores = new float[(long)rows * k];
        _ids = new int[(long)rows * k];
        _counts = new int[rows];
    }

    /// <summary>Whether (sa, ia) ranks below (sb, ib).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Worse(float sa, int ia, float sb, int ib) => sa < sb || (sa == sb && ia > ib);

    /// <summary>Offers every score of <paramref name="scores"/>; the j-th has id <paramref name="firstId"/> + j.</summary>
    public void PushRow(int row, ReadOnlySpan<float> scores, int firstId)
    {
        int j = 0;
        int baseIndex = row * _k;
        // Filling phase: everything goes in until the heap holds k pairs.
        while (_counts[row] < _k && j < scores.Length)
        {
            Push(row, scores[j], firstId + j);
            j++;
        }
        if (j == scores.Length) return;
        float rootScore = _scores[baseIndex];
        int rootId = _ids[baseIndex];
        for (; j < scores.Length; j++)
        {
            float s = scores[j];
            if (s < rootScore) continue;
            int id = firstId + j;
            if (s == rootScore && id > rootId) continue;
            ReplaceRoot(baseIndex, s, id);
            rootScore = _scores[baseIndex];
            rootId = _ids[baseIndex];
        }
    }

    /// <summary>Offers one pair to row <paramref name="row"/>'s heap.</summary>
    public void Push(int row, float score, int id)
    {
        int baseIndex = row * _k;
        int count = _counts[row];
        if (count < _k)
        {
            // Sift up from the new leaf.
            int i = count;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (!Worse(score, id, _scores[baseIndex + parent], _ids[baseIndex + parent])) break;
                _scores[baseIndex + i] = _scores[baseIndex + parent];
                _ids[baseIndex + i] = _ids[baseIndex + parent];
                i = parent;
            }
            _scores[baseIndex + i] = score;
            _ids[baseIndex + i] = id;
            _counts[row] = count + 1;
        }
        else if (Worse(_scores[baseIndex], _ids[baseIndex], score, id))
        {
            ReplaceRoot(baseIndex, score, id);
        }
    }

    /// <summary>Offers every pair held by <paramref name="other"/>'s row <paramref name="row"/>.</summary>
    public void Merge(int row, TopK other)
    {
        int baseIndex = row * other._k;
        for (int i = 0; i < other._counts[row]; i++) Push(row, other._scores[baseIndex + i], other._ids[baseIndex + i]);
    }

    /// <summary>Row <paramref name="row"/>'s pairs, best first.</summary>
    public VectorHit[] Sorted(int row)
    {
        int baseIndex = row * _k;
        var hits = new VectorHit[_counts[row]];
        for (int i = 0; i < hits.Length; i++) hits[i] = new VectorHit(_ids[baseIndex + i], _scores[baseIndex + i]);
        Array.Sort(hits, static (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Id.CompareTo(b.Id));
        return hits;
    }

    private void ReplaceRoot(int baseIndex, float score, int id)
    {
        // Sift the new pair down from the root: move the worse child up while it is worse than the pair.
        int count = _k, i = 0;
        while (true)
        {
            int child = 2 * i + 1;
            if (child >= count) break;
            int right = child + 1;
            if (right < count && Worse(_scores[baseIndex + right], _ids[baseIndex + right], _scores[baseIndex + child], _ids[baseIndex + child]))
                child = right;
            if (!Worse(_scores[baseIndex + child], _ids[baseIndex + child], score, id)) break;
            _scores[baseIndex + i] = _scores[baseIndex + child];
            _ids[baseIndex + i] = _ids[baseIndex + child];
            i = child;
        }
        _scores[baseIndex + i] = score;
        _ids[baseIndex + i] = id;
    }
}
