using GenSearch.Text;

namespace GenSearch.Models;

/// <summary>
/// Texts as one padded block of subword ids for an encoder: row b is [cls] + tokens + [sep], cut to
/// the longest row (at most the model's limit), padding marked. Shapes: B rows of T tokens.
/// </summary>
/// <param name="Tokens">[B * T] ids, padding filled with [pad].</param>
/// <param name="Padding">[B * T], true where a row has ended.</param>
/// <param name="Batch">B.</param>
/// <param name="Length">T.</param>
public sealed record TokenBatch(int[] Tokens, bool[] Padding, int Batch, int Length)
{
    /// <summary>Encodes <paramref name="texts"/>, each cut to <paramref name="maxLength"/> ids (the [sep] kept).</summary>
    public static TokenBatch Encode(WordPieceTokenizer tokenizer, IReadOnlyList<string> texts, int maxLength)
    {
        var rows = texts.Select(t => tokenizer.EncodeWithSpecials(t, maxLength)).ToArray();
        return FromRows(rows);
    }

    /// <summary>Pads already encoded rows into one block.</summary>
    public static TokenBatch FromRows(IReadOnlyList<int[]> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("an empty batch");
        int length = rows.Max(r => r.Length);
        if (length == 0) throw new ArgumentException("every row is empty");
        var tokens = new int[rows.Count * length];
        var padding = new bool[rows.Count * length];
        for (int b = 0; b < rows.Count; b++)
        {
            rows[b].CopyTo(tokens, b * length);
            for (int i = rows[b].Length; i < length; i++)
            {
                tokens[b * length + i] = WordPieceTokenizer.PadId;
                padding[b * length + i] = true;
            }
        }
        return new TokenBatch(tokens, padding, rows.Count, length);
    }
}
